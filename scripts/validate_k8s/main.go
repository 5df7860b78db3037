// validate_k8s decodes every object of a rendered manifest (`helm template` output, one or
// more YAML documents) strictly into the typed Kubernetes API struct of its kind, at the
// k8s.io/api version pinned in go.mod, the way an API server of that version would:
//
//   - an apiVersion/kind that version does not serve fails ("unknown kind");
//   - an unknown field, a field spelled in another case, a duplicate field or a value of the
//     wrong type fails, with the path of the field;
//   - metadata.name must be a valid name (DNS-1123), labels valid label keys and values;
//   - a Deployment's, DaemonSet's or StatefulSet's selector must select its pod template
//     (the API server refuses the object otherwise).
//
// What it does not do: the API server's remaining semantic validation (k8s.io/kubernetes is
// not a library), admission, or anything that needs a cluster.
//
//	helm template deploy/helm/amas-telemetry | validate_k8s [-summary]
//	validate_k8s [-summary] FILE...
//
// With -summary, one line per valid object is printed: "apiVersion kind namespace/name".
// Exit status: 0 all valid, 1 problems found (listed on stderr), 2 usage or read error.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// scheme holds the built-in API groups a chart may use; a kind outside them is unknown.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, rbacv1.AddToScheme,
		policyv1.AddToScheme, autoscalingv2.AddToScheme, networkingv1.AddToScheme,
		discoveryv1.AddToScheme, schedulingv1.AddToScheme, storagev1.AddToScheme,
		coordinationv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}()

// Object is one decoded document: where it came from and the typed value.
type Object struct {
	Source string // "FILE#N (helm source path)"
	GVK    schema.GroupVersionKind
	Value  runtime.Object
}

func main() {
	summary := flag.Bool("summary", false, "print one line per valid object")
	flag.Parse()
	inputs, err := readInputs(flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "validate_k8s:", err)
		os.Exit(2)
	}
	var problems []string
	count := 0
	for _, in := range inputs {
		for i, doc := range splitDocuments(in.data) {
			source := fmt.Sprintf("%s#%d%s", in.name, i+1, helmSource(doc))
			obj, errs := Decode(doc)
			if obj == nil && len(errs) == 0 {
				continue // an empty document (comments only)
			}
			for _, e := range errs {
				problems = append(problems, fmt.Sprintf("%s: %v", source, e))
			}
			if len(errs) == 0 {
				count++
				if *summary {
					m := obj.(metav1.Object)
					fmt.Printf("%s %s %s/%s\n", obj.GetObjectKind().GroupVersionKind().GroupVersion(),
						obj.GetObjectKind().GroupVersionKind().Kind, m.GetNamespace(), m.GetName())
				}
			}
		}
	}
	for _, p := range problems {
		fmt.Fprintln(os.Stderr, p)
	}
	if len(problems) > 0 {
		fmt.Fprintf(os.Stderr, "validate_k8s: %d problem(s)\n", len(problems))
		os.Exit(1)
	}
	if count == 0 {
		fmt.Fprintln(os.Stderr, "validate_k8s: no objects found")
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "validate_k8s: %d objects valid (k8s.io/api %s)\n", count, apiVersion())
}

type input struct {
	name string
	data []byte
}

func readInputs(files []string) ([]input, error) {
	if len(files) == 0 {
		data, err := io.ReadAll(bufio.NewReader(os.Stdin))
		return []input{{"stdin", data}}, err
	}
	var out []input
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, input{f, data})
	}
	return out, nil
}

// splitDocuments splits a YAML stream at "---" lines.
func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		trimmed := strings.TrimRight(string(line), " \t\r\n")
		if trimmed == "---" || strings.HasPrefix(trimmed, "--- ") {
			docs = append(docs, append([]byte(nil), cur.Bytes()...))
			cur.Reset()
			continue
		}
		cur.Write(line)
	}
	return append(docs, cur.Bytes())
}

// helmSource is the " (path)" of helm template's "# Source: path" comment, if any.
func helmSource(doc []byte) string {
	for _, line := range strings.Split(string(doc), "\n") {
		if after, ok := strings.CutPrefix(line, "# Source: "); ok {
			return " (" + strings.TrimSpace(after) + ")"
		}
	}
	return ""
}

// Decode decodes one YAML document strictly into the typed struct of its kind. It returns
// (nil, nil) for a document without content.
func Decode(doc []byte) (runtime.Object, []error) {
	// YAMLToJSONStrict refuses duplicate keys; the JSON keeps every field as written.
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, []error{fmt.Errorf("not valid YAML: %w", err)}
	}
	if t := bytes.TrimSpace(js); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil, nil
	}
	var meta metav1.TypeMeta
	if err := kjson.UnmarshalCaseSensitivePreserveInts(js, &meta); err != nil {
		return nil, []error{fmt.Errorf("not an object: %w", err)}
	}
	if meta.APIVersion == "" || meta.Kind == "" {
		return nil, []error{errors.New("apiVersion and kind are required")}
	}
	gv, err := schema.ParseGroupVersion(meta.APIVersion)
	if err != nil {
		return nil, []error{fmt.Errorf("apiVersion %q: %w", meta.APIVersion, err)}
	}
	gvk := gv.WithKind(meta.Kind)
	obj, err := scheme.New(gvk)
	if err != nil {
		return nil, []error{fmt.Errorf("unknown kind %s %s (not served by k8s.io/api %s)", meta.APIVersion, meta.Kind, apiVersion())}
	}
	strict, err := kjson.UnmarshalStrict(js, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return nil, []error{fmt.Errorf("%s %s: %w", meta.Kind, nameOf(js), err)}
	}
	var errs []error
	for _, e := range strict {
		errs = append(errs, fmt.Errorf("%s %s: %w", meta.Kind, nameOf(js), e))
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	errs = append(errs, checkMeta(obj)...)
	errs = append(errs, checkSelector(obj)...)
	return obj, errs
}

func nameOf(js []byte) string {
	var m struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	_ = kjson.UnmarshalCaseSensitivePreserveInts(js, &m)
	return fmt.Sprintf("%q", m.Metadata.Name)
}

func checkMeta(obj runtime.Object) []error {
	m, ok := obj.(metav1.Object)
	if !ok {
		return []error{errors.New("no metadata")}
	}
	var errs []error
	kind := obj.GetObjectKind().GroupVersionKind().Kind
	if m.GetName() == "" {
		errs = append(errs, fmt.Errorf("%s: metadata.name is required", kind))
	} else if msgs := validation.IsDNS1123Subdomain(m.GetName()); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("%s %q: metadata.name: %s", kind, m.GetName(), strings.Join(msgs, "; ")))
	}
	errs = append(errs, checkLabels(fmt.Sprintf("%s %q: metadata.labels", kind, m.GetName()), m.GetLabels())...)
	return errs
}

func checkLabels(where string, l map[string]string) []error {
	var errs []error
	for k, v := range l {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("%s: key %q: %s", where, k, strings.Join(msgs, "; ")))
		}
		if msgs := validation.IsValidLabelValue(v); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("%s: value %q of %q: %s", where, v, k, strings.Join(msgs, "; ")))
		}
	}
	return errs
}

// checkSelector: a workload's selector must be set and select its own pod template.
func checkSelector(obj runtime.Object) []error {
	var sel *metav1.LabelSelector
	var tmpl map[string]string
	switch o := obj.(type) {
	case *appsv1.Deployment:
		sel, tmpl = o.Spec.Selector, o.Spec.Template.Labels
	case *appsv1.DaemonSet:
		sel, tmpl = o.Spec.Selector, o.Spec.Template.Labels
	case *appsv1.StatefulSet:
		sel, tmpl = o.Spec.Selector, o.Spec.Template.Labels
	default:
		return nil
	}
	name := obj.(metav1.Object).GetName()
	kind := obj.GetObjectKind().GroupVersionKind().Kind
	if sel == nil {
		return []error{fmt.Errorf("%s %q: spec.selector is required", kind, name)}
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return []error{fmt.Errorf("%s %q: spec.selector: %w", kind, name, err)}
	}
	errs := checkLabels(fmt.Sprintf("%s %q: spec.template.metadata.labels", kind, name), tmpl)
	if s.Empty() || !s.Matches(labels.Set(tmpl)) {
		errs = append(errs, fmt.Errorf("%s %q: spec.selector %s does not select the pod template's labels %v", kind, name, s, tmpl))
	}
	return errs
}

// apiVersion is the k8s.io/api module version this binary was built with.
func apiVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "k8s.io/api" {
				return dep.Version
			}
		}
	}
	return "(unknown)"
}
