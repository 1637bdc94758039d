package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// PluginID is the Grafana ClickHouse plugin every query is written for.
const PluginID = "grafana-clickhouse-datasource"

// DatasourceVariable names the dashboard variable that selects the
// ClickHouse datasource; every panel, target and query variable refers to
// it as "${datasource}", never to a fixed uid.
const DatasourceVariable = "datasource"

// Format is how the plugin shapes a result (sqlds/sqlutil FormatQueryOption).
type Format int

// Formats the dashboards use.
const (
	// TimeSeries converts long results (time, label..., value...) into one
	// series per label combination; rows must be sorted by time.
	TimeSeries Format = 0
	// Table shows rows as they come.
	Table Format = 1
)

// Dashboard is one Grafana dashboard. Render turns it into Grafana's JSON
// model; the definitions in this package are the only source of the JSON
// files next to them.
type Dashboard struct {
	// UID is stable: links, provisioning and users' bookmarks use it. It is
	// also the file name (UID + ".json").
	UID         string
	Title       string
	Description string
	// Variables after the datasource variable, which every dashboard has
	// first. Variables may refer to earlier ones.
	Variables []Variable
	// Rows are sections of panels, laid out left to right, top to bottom.
	Rows []Row
}

// Row is a titled section of panels.
type Row struct {
	Title  string
	Panels []Panel
}

// Panel is one visualization with one query.
type Panel struct {
	Title       string
	Description string
	// Type is a Grafana panel type: timeseries, table, barchart, piechart, stat.
	Type   string
	Format Format
	// SQL is the query as a user would type it in the plugin's SQL editor:
	// plugin macros and ${variable} references, expanded at query time.
	SQL string
	// Unit is the default unit of the panel's values (Grafana unit ids:
	// ms, reqps, Bps, percentunit, short, ...).
	Unit string
	// Units set units of single columns by name (table panels mostly).
	Units map[string]string
	// Legend is the series display name template, e.g.
	// "${__field.labels.source}".
	Legend string
	// Stacked stacks time series (counts that add up).
	Stacked bool
	// Bars draws time series as bars.
	Bars bool
	// Width is in grid units (24 = full width); 0 means 12. Height 0 means 8.
	Width, Height int
	// Horizontal lays bar charts out sideways (long category names).
	Horizontal bool
	// XField is the category column of a bar chart.
	XField string
}

// Variable is a dashboard filter. Query variables list the values a query
// returns (for the dashboard's time range); custom variables list Values.
type Variable struct {
	Name  string
	Label string
	// Query returns one column (value) or two (value, text).
	Query string
	// Values of a custom variable, when Query is empty.
	Values []string
	// Multi allows several values; IncludeAll adds "All", which the
	// dashboards' queries turn into no filter with $__conditionalAll.
	Multi, IncludeAll bool
	Description       string
}

// Render returns the dashboard's Grafana JSON, indented and ending in a
// newline. Panel ids are assigned in layout order, starting at 1.
func (d Dashboard) Render() ([]byte, error) {
	ds := map[string]string{"type": PluginID, "uid": "${" + DatasourceVariable + "}"}
	vars := []any{map[string]any{
		"name": DatasourceVariable, "label": "ClickHouse", "type": "datasource", "query": PluginID,
		"current": map[string]any{}, "hide": 0, "refresh": 1, "regex": "", "options": []any{},
		"includeAll": false, "multi": false, "skipUrlSync": false,
		"description": "The ClickHouse datasource (grafana-clickhouse-datasource v4): a ClickHouse server with tapline's schema, or a running tapline's HTTP endpoint.",
	}}
	for _, v := range d.Variables {
		vars = append(vars, v.model(ds))
	}
	var panels []any
	id, y := 0, 0
	for _, row := range d.Rows {
		id++
		panels = append(panels, map[string]any{
			"id": id, "type": "row", "title": row.Title, "collapsed": false, "panels": []any{},
			"gridPos": map[string]int{"h": 1, "w": 24, "x": 0, "y": y},
		})
		y++
		x, rowH := 0, 0
		for _, p := range row.Panels {
			w, h := p.Width, p.Height
			if w == 0 {
				w = 12
			}
			if h == 0 {
				h = 8
			}
			if x+w > 24 {
				x, y, rowH = 0, y+rowH, 0
			}
			id++
			pm, err := p.model(id, ds, x, y, w, h)
			if err != nil {
				return nil, fmt.Errorf("dashboard %s, panel %q: %w", d.UID, p.Title, err)
			}
			panels = append(panels, pm)
			x += w
			rowH = max(rowH, h)
		}
		y += rowH
	}
	model := map[string]any{
		"uid": d.UID, "title": d.Title, "description": d.Description,
		"tags": []string{"tapline"}, "editable": true, "graphTooltip": 1,
		"schemaVersion": 39, "version": 1, "timezone": "", "refresh": "1m",
		"time":        map[string]string{"from": "now-1h", "to": "now"},
		"timepicker":  map[string]any{},
		"templating":  map[string]any{"list": vars},
		"panels":      panels,
		"annotations": map[string]any{"list": []any{builtinAnnotations}},
		"links": []any{map[string]any{
			"title": "tapline dashboards", "type": "dashboards", "tags": []string{"tapline"},
			"asDropdown": true, "includeVars": false, "keepTime": true, "targetBlank": false,
		}},
		"fiscalYearStartMonth": 0, "liveNow": false, "weekStart": "",
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(model); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var builtinAnnotations = map[string]any{
	"builtIn": 1, "datasource": map[string]string{"type": "grafana", "uid": "-- Grafana --"},
	"enable": true, "hide": true, "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard",
}

func (v Variable) model(ds map[string]string) map[string]any {
	m := map[string]any{
		"name": v.Name, "label": v.Label, "description": v.Description, "hide": 0, "skipUrlSync": false,
		"multi": v.Multi, "includeAll": v.IncludeAll, "options": []any{}, "regex": "",
	}
	if v.IncludeAll {
		m["current"] = map[string]any{"selected": true, "text": []string{"All"}, "value": []string{"$__all"}}
	} else {
		m["current"] = map[string]any{}
	}
	if v.Query == "" {
		m["type"] = "custom"
		m["query"] = strings.Join(v.Values, ",")
		var opts []any
		if v.IncludeAll {
			opts = append(opts, map[string]any{"selected": true, "text": "All", "value": "$__all"})
		}
		for _, val := range v.Values {
			opts = append(opts, map[string]any{"selected": false, "text": val, "value": val})
		}
		m["options"] = opts
		return m
	}
	m["type"] = "query"
	m["datasource"] = ds
	m["definition"] = v.Query
	m["query"] = map[string]any{"editorType": "sql", "rawSql": v.Query, "format": int(Table)}
	m["refresh"] = 2 // on time range change
	m["sort"] = 0    // the query's ORDER BY
	return m
}

func (p Panel) model(id int, ds map[string]string, x, y, w, h int) (map[string]any, error) {
	if strings.TrimSpace(p.SQL) == "" {
		return nil, fmt.Errorf("no query")
	}
	queryType := "table"
	if p.Format == TimeSeries {
		queryType = "timeseries"
	}
	defaults := map[string]any{}
	if p.Unit != "" {
		defaults["unit"] = p.Unit
	}
	if p.Legend != "" {
		defaults["displayName"] = p.Legend
	}
	options := map[string]any{}
	switch p.Type {
	case "timeseries":
		custom := map[string]any{
			"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
			"spanNulls": false, "axisSoftMin": 0,
		}
		if p.Bars {
			custom["drawStyle"] = "bars"
			custom["fillOpacity"] = 80
		}
		if p.Stacked {
			custom["stacking"] = map[string]string{"mode": "normal", "group": "A"}
			custom["fillOpacity"] = 60
		}
		defaults["custom"] = custom
		options["legend"] = map[string]any{"displayMode": "table", "placement": "right", "showLegend": true, "calcs": []string{"mean", "max"}}
		options["tooltip"] = map[string]any{"mode": "multi", "sort": "desc"}
	case "table":
		defaults["custom"] = map[string]any{"align": "auto", "cellOptions": map[string]string{"type": "auto"}, "filterable": true}
		options["showHeader"] = true
		options["cellHeight"] = "sm"
		options["footer"] = map[string]any{"show": false, "reducer": []string{"sum"}, "countRows": false}
	case "barchart":
		orientation := "vertical"
		if p.Horizontal {
			orientation = "horizontal"
		}
		options["orientation"] = orientation
		options["xField"] = p.XField
		options["showValue"] = "auto"
		options["stacking"] = "normal"
		options["legend"] = map[string]any{"displayMode": "list", "placement": "bottom", "showLegend": true, "calcs": []string{}}
		options["tooltip"] = map[string]any{"mode": "multi", "sort": "desc"}
		defaults["custom"] = map[string]any{"fillOpacity": 80, "lineWidth": 1}
	case "piechart":
		options["pieType"] = "donut"
		options["reduceOptions"] = map[string]any{"values": true, "calcs": []string{"lastNotNull"}, "fields": ""}
		options["legend"] = map[string]any{"displayMode": "table", "placement": "right", "showLegend": true, "values": []string{"value", "percent"}}
	case "stat":
		options["reduceOptions"] = map[string]any{"values": false, "calcs": []string{"lastNotNull"}, "fields": ""}
		options["colorMode"] = "value"
		options["graphMode"] = "area"
		options["textMode"] = "auto"
	default:
		return nil, fmt.Errorf("panel type %q: the renderer knows timeseries, table, barchart, piechart and stat", p.Type)
	}
	var overrides []any
	cols := make([]string, 0, len(p.Units))
	for c := range p.Units {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	for _, c := range cols {
		overrides = append(overrides, map[string]any{
			"matcher":    map[string]string{"id": "byName", "options": c},
			"properties": []any{map[string]string{"id": "unit", "value": p.Units[c]}},
		})
	}
	if overrides == nil {
		overrides = []any{}
	}
	return map[string]any{
		"id": id, "type": p.Type, "title": p.Title, "description": p.Description,
		"datasource":  ds,
		"gridPos":     map[string]int{"h": h, "w": w, "x": x, "y": y},
		"fieldConfig": map[string]any{"defaults": defaults, "overrides": overrides},
		"options":     options,
		"targets": []any{map[string]any{
			"refId": "A", "datasource": ds, "editorType": "sql", "format": int(p.Format),
			"queryType": queryType, "rawSql": strings.TrimSpace(p.SQL), "pluginVersion": "4.0.0",
		}},
	}, nil
}
