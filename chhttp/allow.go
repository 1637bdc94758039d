package chhttp

import "strings"

// The allowlists of the guard (the second wall; the first is the engine's
// readonly = 1 connection, see Handler). Whatever a list does not name is
// refused with an error that names it. The lists hold what Grafana's
// ClickHouse plugin, clickhouse-go and `tapline sql` need; widen them on
// request, one name at a time, after checking what the name can reach.

// readKinds are the statements a read-only request may start with.
var readKinds = map[string]bool{
	"SELECT": true, "WITH": true, "SHOW": true, "DESCRIBE": true, "DESC": true, "EXISTS": true, "EXPLAIN": true,
}

// writeKinds are statements that change something: refused with READONLY,
// as ClickHouse refuses them on a read-only connection.
var writeKinds = map[string]bool{
	"INSERT": true, "ALTER": true, "DELETE": true, "UPDATE": true, "TRUNCATE": true, "OPTIMIZE": true,
	"CREATE": true, "DROP": true, "RENAME": true, "ATTACH": true, "DETACH": true, "EXCHANGE": true,
	"UNDROP": true, "SYSTEM": true, "KILL": true, "GRANT": true, "REVOKE": true, "SET": true, "USE": true,
	"BACKUP": true, "RESTORE": true, "MOVE": true,
}

// showObjects are what SHOW may list: names and DDL of tables, never
// processes, grants, users, disks, caches or settings profiles.
var showObjects = map[string]bool{
	"DATABASES": true, "TABLES": true, "CREATE": true, "COLUMNS": true, "FIELDS": true, "DICTIONARIES": true,
	"FUNCTIONS": true, "ENGINES": true, "INDEX": true, "INDEXES": true, "INDICES": true, "KEYS": true,
	"FULL": true, "EXTENDED": true, "SETTINGS": true, "SETTING": true, "CHANGED": true,
}

// allowedCategories are system.functions categories whose every function
// computes on its arguments only: no files, network, dictionaries,
// introspection, access or engine state.
var allowedCategories = map[string]bool{
	"Aggregate Functions": true, "Arithmetic": true, "Arrays": true, "Bit": true, "Bitmap": true,
	"Comparison": true, "Conditional": true, "Dates and Times": true, "Distance": true, "Encoding": true,
	"Hash": true, "IP Address": true, "JSON": true, "Logical": true, "Map": true, "Mathematical": true,
	"Null": true, "Random Number": true, "Rounding": true, "String": true, "String Replacement": true,
	"String Search": true, "String Splitting": true, "Time Series": true, "Time Window": true, "Tuple": true,
	"Type Conversion": true, "URL": true, "UUID": true,
}

// allowedOther are the functions of the catch-all "Other" category that
// clients use and that reveal nothing of the host: the handshake of
// clickhouse-go (displayName, version, revision, timezone), formatting,
// block and type helpers, and sleep (bounded by the connection's
// function_sleep_max_microseconds_per_block and max_execution_time).
// Refused from "Other", among others: file, filesystem*, getServerSetting,
// getMacro, hostName, FQDN, tcpPort, getClientHTTPHeader, currentUser,
// joinGet, catboostEvaluate, formatQuery*, showCertificate, serverUUID.
var allowedOther = map[string]bool{
	"bar": true, "blocksize": true, "blocknumber": true, "bytesize": true, "countdigits": true,
	"currentdatabase": true, "defaultvalueofargumenttype": true, "defaultvalueoftypename": true,
	"displayname": true, "errorcodetoname": true, "finalizeaggregation": true, "formatreadabledecimalsize": true,
	"formatreadablequantity": true, "formatreadablesize": true, "formatreadabletimedelta": true,
	"getsetting": true, "getsettingordefault": true, "getsubcolumn": true, "identity": true, "ignore": true,
	"indexhint": true, "initializeaggregation": true, "isconstant": true, "isdecimaloverflow": true,
	"materialize": true, "neighbor": true, "parsereadablesize": true, "parsereadablesizeornull": true,
	"parsereadablesizeorzero": true, "parsetimedelta": true, "revision": true, "rownumberinallblocks": true,
	"rownumberinblock": true, "runningaccumulate": true, "runningdifference": true,
	"runningdifferencestartingwithfirstvalue": true, "sleep": true, "sleepeachrow": true, "throwif": true,
	"tocolumntypename": true, "totypename": true, "transform": true, "uptime": true, "variantelement": true,
	"varianttype": true, "version": true, "visiblewidth": true,
}

// syntaxCalls are words the engine's formatter writes like calls that are
// syntax, not functions: COLUMNS('regex') and EXISTS((subquery)).
var syntaxCalls = map[string]bool{"columns": true, "exists": true}

// allowedTableFunctions generate rows without reading anything, or wrap a
// subquery that is vetted like the rest of the statement (view).
var allowedTableFunctions = map[string]bool{
	"numbers": true, "numbers_mt": true, "zeros": true, "zeros_mt": true, "values": true, "null": true,
	"generateseries": true, "generate_series": true, "primes": true, "view": true,
}

// allowedSystemTables hold no paths, no other sessions' queries and no
// engine configuration.
var allowedSystemTables = map[string]bool{
	"one": true, "numbers": true, "numbers_mt": true, "zeros": true, "zeros_mt": true, "primes": true,
	"columns": true, "functions": true, "table_functions": true, "table_engines": true, "database_engines": true,
	"data_type_families": true, "aggregate_function_combinators": true, "formats": true, "settings": true,
	"time_zones": true, "collations": true, "keywords": true, "contributors": true, "completions": true,
}

// infoSchemas are the information_schema databases: views over system
// tables that show names and types only.
var infoSchemas = map[string]bool{"information_schema": true}

// querySettings may appear in a query's SETTINGS clause, with a literal
// value. The read-only connection refuses any of them set to another value
// than its own, so honest queries that restate a value pass and nothing
// changes; every other setting is refused by name.
var querySettings = map[string]bool{
	"max_threads": true, "max_block_size": true, "max_execution_time": true, "max_result_rows": true,
	"max_result_bytes": true, "readonly": true, "extremes": true, "output_format_json_quote_64bit_integers": true,
	"output_format_json_quote_denormals": true, "date_time_output_format": true, "output_format_pretty_max_rows": true,
}

// consumedURLSettings are URL settings the handler applies itself instead
// of passing them to the engine: max_execution_time (clickhouse-go and the
// Grafana plugin send it) only ever shortens the handler's own deadline;
// readonly only restates what the connection is.
var consumedURLSettings = map[string]bool{"max_execution_time": true, "readonly": true}

// insertFormats are the input formats a writable endpoint accepts: none of
// them reads a schema or template file.
var insertFormats = map[string]bool{
	"native": true, "rowbinary": true, "rowbinarywithnames": true, "rowbinarywithnamesandtypes": true,
	"tabseparated": true, "tabseparatedwithnames": true, "tabseparatedwithnamesandtypes": true, "tsv": true,
	"tsvwithnames": true, "tsvwithnamesandtypes": true, "csv": true, "csvwithnames": true,
	"csvwithnamesandtypes": true, "jsoneachrow": true, "jsonlines": true, "ndjson": true,
	"jsoncompacteachrow": true, "arrowstream": true, "arrow": true, "parquet": true,
}

// insertSettings may appear in a writable INSERT's SETTINGS clause.
var insertSettings = map[string]bool{"insert_deduplication_token": true}

// functionSet is the engine's functions the guard admits, lower case, and
// the aggregate functions (which take combinator suffixes).
type functionSet struct {
	allowed     map[string]bool
	aggregates  map[string]bool
	known       map[string]bool
	combinators []string
}

// newFunctionSet builds the set from system.functions rows
// ("name\tcategories\talias_to\tis_aggregate") and combinator names.
func newFunctionSet(rows, combinators []string) functionSet {
	fs := functionSet{allowed: map[string]bool{}, aggregates: map[string]bool{}, known: map[string]bool{}}
	type fn struct{ cats, alias string }
	all := map[string]fn{}
	for _, r := range rows {
		parts := strings.SplitN(r, "\t", 4)
		if len(parts) != 4 {
			continue
		}
		// Names differ by case only (timeZone is an alias of timezone):
		// merge, keeping the categories of the function itself.
		name := strings.ToLower(parts[0])
		f := all[name]
		if parts[1] != "" {
			f.cats = strings.Trim(f.cats+","+parts[1], ",")
		}
		if alias := strings.ToLower(parts[2]); alias != "" && alias != name {
			f.alias = alias
		}
		all[name] = f
		fs.known[name] = true
		if parts[3] == "1" {
			fs.aggregates[name] = true
		}
	}
	ok := func(name string) bool {
		f := all[name]
		if allowedOther[name] {
			return true
		}
		for _, c := range strings.Split(f.cats, ",") {
			if allowedCategories[strings.TrimSpace(c)] {
				return true
			}
		}
		return false
	}
	for name, f := range all {
		fs.allowed[name] = ok(name) || f.cats == "" && f.alias != "" && ok(f.alias)
	}
	for _, c := range combinators {
		fs.combinators = append(fs.combinators, strings.ToLower(c))
	}
	return fs
}

// allows reports whether name (lower case) is an admitted function: listed,
// or an admitted aggregate function with combinator suffixes
// (quantilesTDigestMerge, sumIf, countIfOrNull).
func (fs functionSet) allows(name string) bool { return fs.allowsAt(name, 0) }

func (fs functionSet) allowsAt(name string, depth int) bool {
	if fs.allowed[name] && (depth == 0 || fs.aggregates[name]) {
		return true
	}
	if depth >= 4 {
		return false
	}
	for _, c := range fs.combinators {
		if c != "" && len(name) > len(c) && strings.HasSuffix(name, c) && fs.allowsAt(name[:len(name)-len(c)], depth+1) {
			return true
		}
	}
	return false
}
