package dashboards

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/tapline/tapline/internal/embeddedtest"
)

var update = flag.Bool("update", false, "rewrite the dashboards' JSON files from their Go definitions")

func TestMain(m *testing.M) { embeddedtest.Main(m) }

// TestJSONFilesAreCurrent fails while a committed dashboard file differs
// from its definition, or a JSON file has no definition. `go test
// ./dashboards -update` rewrites them.
func TestJSONFilesAreCurrent(t *testing.T) {
	want := map[string]bool{}
	for _, d := range All() {
		b, err := d.Render()
		require.NoError(t, err)
		want[d.FileName()] = true
		if *update {
			require.NoError(t, os.WriteFile(d.FileName(), b, 0o644))
			continue
		}
		got, err := os.ReadFile(d.FileName())
		require.NoError(t, err, "dashboards/%s is missing: run go test ./dashboards -update", d.FileName())
		require.Equal(t, string(b), string(got), "dashboards/%s is stale: run go test ./dashboards -update and commit it", d.FileName())
	}
	files, err := filepath.Glob("*.json")
	require.NoError(t, err)
	for _, f := range files {
		require.True(t, want[f], "dashboards/%s has no definition in dashboards/*.go: delete it or define it", f)
	}
}

// TestDashboardJSON checks the committed files as Grafana reads them:
// unique uids and panel ids, the datasource variable everywhere (never a
// fixed uid or a ${DS_...} import placeholder), a query in every panel, and
// every ${variable} a query uses defined.
func TestDashboardJSON(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.json")
	require.NoError(t, err)
	require.Len(t, files, len(All()))
	uids, titles := map[string]string{}, map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NotContains(t, string(b), "${DS_", "%s: import placeholders break provisioning", f)
		var d struct {
			UID, Title string
			Templating struct{ List []map[string]any }
			Panels     []map[string]any
		}
		require.NoError(t, json.Unmarshal(b, &d), f)
		require.Regexp(t, `^tapline-[a-z0-9]+$`, d.UID, f)
		require.Equal(t, d.UID+".json", f)
		require.Empty(t, uids[d.UID], "uid %s in %s and %s", d.UID, f, uids[d.UID])
		require.Empty(t, titles[d.Title], "title %q in %s and %s", d.Title, f, titles[d.Title])
		uids[d.UID], titles[d.Title] = f, f

		require.NotEmpty(t, d.Templating.List, f)
		dsVar := d.Templating.List[0]
		require.Equal(t, map[string]any{"name": DatasourceVariable, "type": "datasource", "query": PluginID},
			map[string]any{"name": dsVar["name"], "type": dsVar["type"], "query": dsVar["query"]}, "%s: the first variable selects the datasource", f)
		defined := map[string]bool{}
		var sqls []string
		for _, v := range d.Templating.List {
			name := v["name"].(string)
			require.False(t, defined[name], "%s: variable %s twice", f, name)
			defined[name] = true
			if v["type"] == "query" {
				requireDatasource(t, v["datasource"], f+" variable "+name)
				q := v["query"].(map[string]any)
				require.NotEmpty(t, q["rawSql"], "%s: variable %s has no query", f, name)
				sqls = append(sqls, q["rawSql"].(string))
			}
		}

		ids := map[float64]bool{}
		for _, p := range d.Panels {
			id := p["id"].(float64)
			require.False(t, ids[id], "%s: panel id %v twice", f, id)
			ids[id] = true
			pos := p["gridPos"].(map[string]any)
			require.LessOrEqual(t, pos["x"].(float64)+pos["w"].(float64), 24.0, "%s panel %v: wider than the grid", f, id)
			if p["type"] == "row" {
				continue
			}
			where := f + " panel " + p["title"].(string)
			requireDatasource(t, p["datasource"], where)
			targets, _ := p["targets"].([]any)
			require.NotEmpty(t, targets, "%s: no query", where)
			for _, tg := range targets {
				tm := tg.(map[string]any)
				requireDatasource(t, tm["datasource"], where)
				require.Equal(t, "sql", tm["editorType"], where)
				require.Contains(t, []any{float64(TimeSeries), float64(Table)}, tm["format"], where)
				sql, _ := tm["rawSql"].(string)
				require.NotEmpty(t, strings.TrimSpace(sql), "%s: empty query", where)
				require.True(t, strings.Contains(sql, "$__timeFilter") || strings.Contains(sql, "$__fromTime"), "%s: every panel filters on the dashboard's time range", where)
				sqls = append(sqls, sql)
			}
		}
		used := map[string]bool{}
		for _, sql := range sqls {
			for _, m := range regexp.MustCompile(`\$\{?(\w+)`).FindAllStringSubmatch(sql, -1) {
				if strings.HasPrefix(m[1], "__") {
					continue
				}
				require.True(t, defined[m[1]], "%s: a query uses $%s, which is not a variable", f, m[1])
				used[m[1]] = true
			}
		}
		for name := range defined {
			require.True(t, name == DatasourceVariable || used[name], "%s: variable %s filters nothing", f, name)
		}
	}
}

func requireDatasource(t *testing.T, ds any, where string) {
	t.Helper()
	require.Equal(t, map[string]any{"type": PluginID, "uid": "${" + DatasourceVariable + "}"}, ds, "%s: datasource must be the ${%s} variable", where, DatasourceVariable)
}

// TestProvisioning checks the provisioning files Grafana reads: one
// ClickHouse datasource, and a provider whose path deploy/compose.yml mounts
// this directory at.
func TestProvisioning(t *testing.T) {
	t.Parallel()
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, UID, Type string
			JSONData        map[string]any `yaml:"jsonData"`
		}
	}
	b, err := os.ReadFile("provisioning/datasources/tapline.yaml")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, &ds))
	require.Equal(t, 1, ds.APIVersion)
	require.Len(t, ds.Datasources, 1)
	require.Equal(t, PluginID, ds.Datasources[0].Type)
	require.Equal(t, "http", ds.Datasources[0].JSONData["protocol"])
	require.Equal(t, 8124, ds.Datasources[0].JSONData["port"], "the default of tapline run --http")

	var prov struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name, Type string
			Options    struct{ Path string }
		}
	}
	b, err = os.ReadFile("provisioning/dashboards/tapline.yaml")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, &prov))
	require.Len(t, prov.Providers, 1)
	require.Equal(t, "file", prov.Providers[0].Type)
	path := prov.Providers[0].Options.Path

	var compose struct {
		Services map[string]struct{ Volumes []string }
	}
	b, err = os.ReadFile("../deploy/compose.yml")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, &compose))
	mounts := map[string]string{}
	for _, v := range compose.Services["grafana"].Volumes {
		parts := strings.Split(v, ":")
		require.GreaterOrEqual(t, len(parts), 2, v)
		mounts[parts[1]] = parts[0]
	}
	require.Equal(t, "../dashboards", mounts[path], "deploy/compose.yml must mount dashboards/ at the provider's path %s", path)
	require.Equal(t, "../dashboards/provisioning/dashboards", mounts["/etc/grafana/provisioning/dashboards"], "deploy/compose.yml must mount the dashboard provider")
	var names []string
	for n := range mounts {
		names = append(names, n)
	}
	sort.Strings(names)
	require.Contains(t, names, "/etc/grafana/provisioning/datasources/tapline.yml", "deploy/compose.yml provisions a datasource")
}
