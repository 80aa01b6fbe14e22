package api

import (
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// Every registered route must be in the OpenAPI document, and the document
// must not describe routes that do not exist.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	s := newTestServer(t)
	raw, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`:([A-Za-z_]+)`)
	registered := map[string]bool{}
	var missing []string
	for _, r := range s.router.Routes() {
		path := param.ReplaceAllString(r.Path, "{$1}")
		method := strings.ToLower(r.Method)
		registered[method+" "+path] = true
		if _, ok := doc.Paths[path][method]; !ok {
			missing = append(missing, r.Method+" "+path)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("routes missing from the OpenAPI document:\n  %s", strings.Join(missing, "\n  "))
	}
	var extra []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			if !registered[method+" "+path] {
				extra = append(extra, strings.ToUpper(method)+" "+path)
			}
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("documented routes that do not exist:\n  %s", strings.Join(extra, "\n  "))
	}
}

func TestOpenAPIServed(t *testing.T) {
	s := newTestServer(t)
	r := s.must(200, "GET", "/openapi.yaml", "", nil)
	if !strings.Contains(string(r.Raw), "openapi: 3.0.3") {
		t.Fatalf("served document lacks its header: %.100s", r.Raw)
	}
}
