// certgen makes the private CA and the certificates of a secured OTLP hop: a CA, a server
// certificate for the Collector's receivers, and client certificates for mutual TLS.
//
//	certgen -dir DIR [-hosts otel-collector,localhost,127.0.0.1] [-clients app,agent]
//	        [-days 825] [-server-owner UID:GID] [-client-owner UID:GID] [-token]
//
// Files in DIR (PEM): ca.crt, ca.key, server.crt, server.key, client-NAME.crt, client-NAME.key;
// with -token also `token`, a random bearer token (32 bytes, base64url) for the OTLP hop,
// readable by every process of the stack that mounts DIR (0644: the Collector and the apps
// run as different users; keep DIR on a volume only they mount).
// A file that exists is kept, so running certgen at every start (compose's one-shot `certs`
// service) is idempotent; delete DIR to make new ones. Keys are ECDSA P-256, written 0600
// (the owner flags hand the server and client keys to the processes that read them);
// certificates are 0644. The CA key never leaves DIR.
//
// It uses only the Go standard library, so the compose image and the tests (which build it
// once per machine, keyed by its source: amas_devstack.certgen) run the same code.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

type owner struct{ uid, gid int }

func parseOwner(s string) (*owner, error) {
	if s == "" {
		return nil, nil
	}
	u, g, ok := strings.Cut(s, ":")
	if !ok {
		return nil, fmt.Errorf("owner %q: want UID:GID", s)
	}
	uid, err := strconv.Atoi(u)
	if err != nil {
		return nil, fmt.Errorf("owner %q: %w", s, err)
	}
	gid, err := strconv.Atoi(g)
	if err != nil {
		return nil, fmt.Errorf("owner %q: %w", s, err)
	}
	return &owner{uid, gid}, nil
}

type pair struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func main() {
	dir := flag.String("dir", "", "output folder (created)")
	hosts := flag.String("hosts", "localhost,127.0.0.1", "comma-separated DNS names and IPs of the server certificate")
	clients := flag.String("clients", "", "comma-separated client certificate names (mutual TLS)")
	days := flag.Int("days", 825, "validity of the server and client certificates (the CA: 10 years)")
	serverOwner := flag.String("server-owner", "", "UID:GID to own server.key (the Collector's user)")
	clientOwner := flag.String("client-owner", "", "UID:GID to own the client keys")
	token := flag.Bool("token", false, "also make DIR/token, a random bearer token")
	flag.Parse()
	if err := run(*dir, *hosts, *clients, *days, *serverOwner, *clientOwner); err != nil {
		fmt.Fprintln(os.Stderr, "certgen:", err)
		os.Exit(1)
	}
	if *token {
		if err := ensureToken(filepath.Join(*dir, "token")); err != nil {
			fmt.Fprintln(os.Stderr, "certgen:", err)
			os.Exit(1)
		}
	}
}

// ensureToken keeps an existing token file, or writes a new random token.
func ensureToken(path string) error {
	if data, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(data))) > 0 {
		fmt.Printf("certgen: kept %s\n", path)
		return nil
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	value := base64.RawURLEncoding.EncodeToString(raw) + "\n"
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(value), 0o644); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	fmt.Printf("certgen: made %s\n", path)
	return nil
}

func run(dir, hosts, clients string, days int, serverOwner, clientOwner string) error {
	if dir == "" {
		return errors.New("-dir is required")
	}
	srvOwner, err := parseOwner(serverOwner)
	if err != nil {
		return err
	}
	cliOwner, err := parseOwner(clientOwner)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	validity := time.Duration(days) * 24 * time.Hour
	ca, err := ensure(dir, "ca", nil, nil, func() *x509.Certificate {
		return &x509.Certificate{
			Subject:               pkix.Name{CommonName: "amas-telemetry private CA"},
			NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
			IsCA:                  true,
			BasicConstraintsValid: true,
			MaxPathLenZero:        true,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		}
	})
	if err != nil {
		return err
	}
	_, err = ensure(dir, "server", ca, srvOwner, func() *x509.Certificate {
		t := &x509.Certificate{
			Subject:     pkix.Name{CommonName: "amas-telemetry collector"},
			NotAfter:    time.Now().Add(validity),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		for _, h := range strings.Split(hosts, ",") {
			if h = strings.TrimSpace(h); h == "" {
				continue
			}
			if ip := net.ParseIP(h); ip != nil {
				t.IPAddresses = append(t.IPAddresses, ip)
			} else {
				t.DNSNames = append(t.DNSNames, h)
			}
		}
		return t
	})
	if err != nil {
		return err
	}
	for _, name := range strings.Split(clients, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		_, err = ensure(dir, "client-"+name, ca, cliOwner, func() *x509.Certificate {
			return &x509.Certificate{
				Subject:     pkix.Name{CommonName: name},
				NotAfter:    time.Now().Add(validity),
				KeyUsage:    x509.KeyUsageDigitalSignature,
				ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// ensure loads NAME.crt/NAME.key from dir, or makes them from template() signed by issuer
// (self-signed when issuer is nil).
func ensure(dir, name string, issuer *pair, keyOwner *owner, template func() *x509.Certificate) (*pair, error) {
	certPath, keyPath := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if p, err := load(certPath, keyPath); err == nil {
		if issuer != nil {
			if err := p.cert.CheckSignatureFrom(issuer.cert); err != nil {
				return nil, fmt.Errorf("%s is not signed by the CA in %s (delete the folder to start over): %w", certPath, dir, err)
			}
		}
		if time.Until(p.cert.NotAfter) < 30*24*time.Hour {
			fmt.Fprintf(os.Stderr, "certgen: %s expires on %s; delete it and its key to renew\n", certPath, p.cert.NotAfter.Format(time.DateOnly))
		}
		fmt.Printf("certgen: kept %s\n", certPath)
		return p, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	t := template()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return nil, err
	}
	t.SerialNumber = serial
	t.NotBefore = time.Now().Add(-time.Hour) // tolerate clock skew between containers
	parent, signer := t, key
	if issuer != nil {
		parent, signer = issuer.cert, issuer.key
	}
	der, err := x509.CreateCertificate(rand.Reader, t, parent, &key.PublicKey, signer)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	// the key first: a certificate without its key is never left behind
	if err := write(keyPath, "PRIVATE KEY", keyDER, 0o600, keyOwner); err != nil {
		return nil, err
	}
	if err := write(certPath, "CERTIFICATE", der, 0o644, nil); err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	fmt.Printf("certgen: made %s\n", certPath)
	return &pair{cert, key}, nil
}

func load(certPath, keyPath string) (*pair, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, fmt.Errorf("%s or %s is not PEM; delete both to make new ones", certPath, keyPath)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certPath, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an ECDSA key", keyPath)
	}
	return &pair{cert, key}, nil
}

func write(path, blockType string, der []byte, mode os.FileMode, o *owner) error {
	tmp := path + ".tmp"
	data := pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der})
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil { // WriteFile's mode is masked by the umask
		return err
	}
	if o != nil {
		if err := os.Chown(tmp, o.uid, o.gid); err != nil {
			return err
		}
	}
	return os.Rename(tmp, path)
}
