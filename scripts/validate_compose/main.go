// validate_compose loads compose.yaml with the Compose Specification loader (compose-go,
// the library docker compose itself uses) and enforces the AMAS rules the spec does not:
//
//   - every image is pinned: a tag other than "latest", or a digest (built images too);
//   - every published port is bound to 127.0.0.1;
//   - every bind-mounted file or folder exists inside the repository, except the host paths
//     a host-observing Collector reads (hostReadOnlyMounts), which must be mounted read-only;
//   - volumes are named (no anonymous ones);
//   - every long-running service has a health check, and depends_on waits for it
//     (service_healthy; service_completed_successfully for one-shot services);
//   - every ${VAR:?message} really is required: loading without it fails;
//   - password, secret, token and key variables come from such required variables,
//     never from a literal (and never "admin"); an optional one may be empty (no secret:
//     the Collector's view of the app's stores when the observability layer runs alone);
//   - files named by `include:` are read for their required variables too.
//
// Required variables are set to dummy values for the load, whatever the caller's
// environment holds, so the result does not depend on who runs it.
//
//	go run ./scripts/validate_compose [-f compose.yaml]
//
// Exit status: 0 valid, 1 problems found (listed on stderr), 2 usage or load error.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

const dummyPrefix = "validate-compose-dummy-"

// hostReadOnlyMounts are the host paths outside the repository that may be bind-mounted,
// read-only only: the host's root for the hostmetrics receiver (root_path), and the Docker
// socket for the docker_stats receiver (container CPU, memory, network, block I/O).
var hostReadOnlyMounts = map[string]bool{"/": true, "/var/run/docker.sock": true}

var (
	requiredVar   = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*):?\?`)
	sensitiveName = regexp.MustCompile(`(?i)(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|_AUTH)$`)
	sensitiveURL  = regexp.MustCompile(`://[^/@\s]*:[^/@\s]+@`) // user:password@host
	includeBlock  = regexp.MustCompile(`(?m)^include:\n((?:[ \t]+(?:-.*|#.*)?\n)+)`)
	includeEntry  = regexp.MustCompile(`(?m)^[ \t]+-[ \t]+(\S+)[ \t]*$`)
)

func main() {
	file := flag.String("f", "compose.yaml", "the compose file")
	flag.Parse()
	report, err := Validate(context.Background(), *file)
	if err != nil {
		fmt.Fprintln(os.Stderr, "validate_compose:", err)
		os.Exit(2)
	}
	for _, w := range report.Warnings {
		fmt.Fprintln(os.Stderr, "warning:", w)
	}
	if len(report.Problems) > 0 {
		for _, p := range report.Problems {
			fmt.Fprintln(os.Stderr, "problem:", p)
		}
		fmt.Fprintf(os.Stderr, "%s: %d problem(s)\n", *file, len(report.Problems))
		os.Exit(1)
	}
	fmt.Printf("%s: valid (%d services, %d required variables)\n", *file, report.Services, len(report.Required))
}

// Report is what Validate found.
type Report struct {
	Services int
	Required []string
	Problems []string
	Warnings []string
}

func (r *Report) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// Validate loads the compose file and checks it.
func Validate(ctx context.Context, file string) (*Report, error) {
	path, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	root := filepath.Dir(path)
	// the files it includes (`include:` entries, paths relative to it) are read for their
	// required variables too: compose loads them as part of the same project
	texts := string(raw)
	for _, included := range includedFiles(string(raw)) {
		more, err := os.ReadFile(filepath.Join(root, included))
		if err != nil {
			return nil, fmt.Errorf("%s includes %s: %w", file, included, err)
		}
		texts += "\n" + string(more)
	}
	report := &Report{Required: requiredVariables(texts)}

	env := map[string]string{}
	for _, name := range report.Required {
		env[name] = dummyPrefix + name
	}
	project, err := load(ctx, path, env)
	if err != nil {
		return nil, fmt.Errorf("loading %s with its required variables set: %w", file, err)
	}
	report.Services = len(project.Services)

	for _, name := range report.Required {
		without := map[string]string{}
		for k, v := range env {
			if k != name {
				without[k] = v
			}
		}
		if _, err := load(ctx, path, without); err == nil {
			report.problem("${%s:?...} does not make the variable required: loading without it succeeded", name)
		} else if !strings.Contains(err.Error(), name) {
			report.problem("loading without %s failed, but the error does not name it: %v", name, err)
		}
	}

	names := make([]string, 0, len(project.Services))
	for name := range project.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		checkService(report, project, project.Services[name], root)
	}
	return report, nil
}

func load(ctx context.Context, path string, env map[string]string) (*types.Project, error) {
	list := make([]string, 0, len(env))
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	options, err := cli.NewProjectOptions(
		[]string{path},
		cli.WithWorkingDirectory(filepath.Dir(path)),
		cli.WithEnv(list), // only these: never the caller's environment
		cli.WithInterpolation(true),
		cli.WithResolvedPaths(true),
		cli.WithConsistency(true),
	)
	if err != nil {
		return nil, err
	}
	return options.LoadProject(ctx)
}

// includedFiles lists the short-syntax entries of a top-level `include:` list.
func includedFiles(raw string) []string {
	var files []string
	if m := includeBlock.FindStringSubmatch(raw); m != nil {
		for _, entry := range includeEntry.FindAllStringSubmatch(m[1], -1) {
			files = append(files, strings.Trim(entry[1], `"'`))
		}
	}
	return files
}

func requiredVariables(raw string) []string {
	seen := map[string]bool{}
	var names []string
	for _, m := range requiredVar.FindAllStringSubmatch(raw, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			names = append(names, m[1])
		}
	}
	sort.Strings(names)
	return names
}

func oneShot(s types.ServiceConfig) bool {
	return s.Restart == "no"
}

func hasHealthcheck(s types.ServiceConfig) bool {
	return s.HealthCheck != nil && !s.HealthCheck.Disable && len(s.HealthCheck.Test) > 0 &&
		s.HealthCheck.Test[0] != "NONE"
}

func checkService(r *Report, project *types.Project, s types.ServiceConfig, root string) {
	name := s.Name

	// images
	switch {
	case s.Image == "" && s.Build == nil:
		r.problem("%s: neither image nor build", name)
	case s.Image == "":
		r.problem("%s: built without an image name; name it with an explicit tag (not latest)", name)
	default:
		if msg := unpinned(s.Image); msg != "" {
			r.problem("%s: image %q %s", name, s.Image, msg)
		}
	}
	if s.Build != nil {
		context := s.Build.Context
		if !filepath.IsAbs(context) {
			context = filepath.Join(root, context)
		}
		if !inside(root, context) {
			r.problem("%s: build context %s is outside the repository", name, s.Build.Context)
		} else if info, err := os.Stat(context); err != nil || !info.IsDir() {
			r.problem("%s: build context %s does not exist", name, s.Build.Context)
		} else if s.Build.Dockerfile != "" && !filepath.IsAbs(s.Build.Dockerfile) {
			if _, err := os.Stat(filepath.Join(context, s.Build.Dockerfile)); err != nil {
				r.Warnings = append(r.Warnings, fmt.Sprintf("%s: %s does not exist yet (docker compose build will fail)",
					name, rel(root, filepath.Join(context, s.Build.Dockerfile))))
			}
		}
	}

	// ports
	for _, p := range s.Ports {
		if p.HostIP != "127.0.0.1" {
			host := p.HostIP
			if host == "" {
				host = "all interfaces"
			}
			r.problem("%s: port %d is published on %s; bind it to 127.0.0.1", name, p.Target, host)
		}
	}
	if s.NetworkMode != "" && strings.HasPrefix(s.NetworkMode, "service:") && len(s.Ports) > 0 {
		r.problem("%s: publishes ports but shares %s", name, s.NetworkMode)
	}

	// mounts
	for _, v := range s.Volumes {
		switch v.Type {
		case types.VolumeTypeBind:
			if hostReadOnlyMounts[v.Source] {
				if !v.ReadOnly {
					r.problem("%s: host path %s must be mounted read-only", name, v.Source)
				}
			} else if !inside(root, v.Source) {
				r.problem("%s: bind mount %s is outside the repository", name, v.Source)
			} else if _, err := os.Stat(v.Source); err != nil {
				r.problem("%s: bind mount %s does not exist", name, rel(root, v.Source))
			}
		case types.VolumeTypeVolume:
			if v.Source == "" {
				r.problem("%s: anonymous volume at %s; use a named volume", name, v.Target)
			} else if _, ok := project.Volumes[v.Source]; !ok {
				r.problem("%s: volume %s is not declared under volumes:", name, v.Source)
			}
		}
	}

	// health checks and start order
	if !oneShot(s) && !hasHealthcheck(s) {
		r.problem("%s: no health check", name)
	}
	for dep, cfg := range s.DependsOn {
		target, ok := project.Services[dep]
		if !ok {
			continue // the loader already refuses unknown services
		}
		want := ""
		switch {
		case oneShot(target):
			want = types.ServiceConditionCompletedSuccessfully
		case hasHealthcheck(target):
			want = types.ServiceConditionHealthy
		}
		if want != "" && cfg.Condition != want {
			r.problem("%s: depends_on %s with condition %q; use %s", name, dep, cfg.Condition, want)
		}
	}

	// secrets in the environment
	for key, value := range s.Environment {
		if value == nil {
			continue
		}
		v := *value
		if sensitiveName.MatchString(key) {
			if strings.EqualFold(v, "admin") {
				r.problem("%s: %s is \"admin\"", name, key)
			} else if v != "" && !strings.HasPrefix(v, dummyPrefix) {
				r.problem("%s: %s is not taken from a required variable (${VAR:?message})", name, key)
			}
		}
		if sensitiveURL.MatchString(v) && !strings.Contains(v, dummyPrefix) {
			r.problem("%s: %s holds a URL with a literal password", name, key)
		}
	}
}

// unpinned explains why an image reference is not pinned, or returns "".
func unpinned(image string) string {
	if strings.Contains(image, "@sha256:") {
		return ""
	}
	last := image[strings.LastIndex(image, "/")+1:]
	i := strings.LastIndex(last, ":")
	if i < 0 {
		return "has no tag (that means latest)"
	}
	tag := last[i+1:]
	if tag == "" || tag == "latest" || strings.Contains(tag, "$") {
		return "is not pinned to a version"
	}
	return ""
}

func inside(root, path string) bool {
	relPath, err := filepath.Rel(root, path)
	return err == nil && relPath != ".." && !strings.HasPrefix(relPath, ".."+string(filepath.Separator))
}

func rel(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil {
		return r
	}
	return path
}
