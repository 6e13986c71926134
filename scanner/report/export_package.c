/* datapackage.json of `danescan export` (see export_scan.h): a Frictionless
 * Data Package v1 (https://specs.frictionlessdata.io/data-package/) with one
 * tabular-data-resource per written file. Field types follow the PostgreSQL
 * types (export_kind); descriptions come from the data dictionary; enum
 * columns list the database enum's labels as constraints.enum; primaryKey is
 * the table's primary key where it has one, foreignKeys the dictionary's
 * references between exported tables. */
#include "report/export_scan.h"

#include <stdlib.h>
#include <string.h>

#include "util/json.h"

static const char undescribed[] = "Not described in this danescan's data dictionary (a column added by a later "
                                  "migration).";

/* Embeds a JSON value the database produced (enum labels, the scan row). */
static void json_value_raw(struct json_buf *buf, const char *json) {
  if (json == NULL) {
    json_null(buf);
    return;
  }
  json_raw(buf, json, strlen(json));
  buf->need_comma = true;
}

static const char *frictionless_type(enum export_kind kind) {
  switch (kind) {
  case EXPORT_KIND_INTEGER:
    return "integer";
  case EXPORT_KIND_NUMBER:
    return "number";
  case EXPORT_KIND_BOOLEAN:
    return "boolean";
  case EXPORT_KIND_DATETIME:
    return "datetime";
  case EXPORT_KIND_DATE:
    return "date";
  case EXPORT_KIND_ARRAY:
    return "array";
  case EXPORT_KIND_JSON:
    return "any";
  default:
    return "string";
  }
}

/* What the reader needs to know about how a kind is written, appended to
 * the column's description. */
static const char *representation(enum export_kind kind, enum export_format format) {
  bool csv = format == EXPORT_CSV_GZ;
  switch (kind) {
  case EXPORT_KIND_BYTES:
    return " Bytes as lower-case hex.";
  case EXPORT_KIND_ARRAY:
    return csv ? " A JSON array, written as JSON text." : " A JSON array.";
  case EXPORT_KIND_JSON:
    return csv ? " A JSON value, written as JSON text." : "";
  case EXPORT_KIND_DATETIME:
    return " UTC.";
  default:
    return "";
  }
}

static void write_field(struct json_buf *buf, const char *table, const struct export_field *field,
                        enum export_format format, FILE *warnings) {
  json_object_begin(buf);
  json_key(buf, "name");
  json_string(buf, field->name);
  json_key(buf, "type");
  json_string(buf, frictionless_type(field->kind));
  if (field->kind == EXPORT_KIND_DATETIME) {
    json_key(buf, "format");
    json_string(buf, "%Y-%m-%dT%H:%M:%S.%fZ");
  }
  const char *text = field->described;
  if (text == NULL) {
    text = field->comment != NULL ? field->comment : undescribed;
    if (warnings != NULL) {
      fprintf(warnings, "danescan export: warning: %s.%s is not in the data dictionary (%s)\n", table, field->name,
              field->comment != NULL ? "its PostgreSQL comment is used" : "described as such");
    }
  }
  size_t len = strlen(text) + 64;
  char *description = malloc(len);
  if (description != NULL) snprintf(description, len, "%s%s", text, representation(field->kind, format));
  json_key(buf, "description");
  json_string(buf, description != NULL ? description : text);
  free(description);
  if (field->required || field->kind == EXPORT_KIND_ENUM || field->kind == EXPORT_KIND_BYTES) {
    json_key(buf, "constraints");
    json_object_begin(buf);
    if (field->required) {
      json_key(buf, "required");
      json_bool(buf, true);
    }
    if (field->kind == EXPORT_KIND_ENUM) {
      json_key(buf, "enum");
      json_value_raw(buf, field->enum_values);
    }
    if (field->kind == EXPORT_KIND_BYTES) {
      json_key(buf, "pattern");
      json_string(buf, "([0-9a-f]{2})*");
    }
    json_object_end(buf);
  }
  json_object_end(buf);
}

static void write_names(struct json_buf *buf, const char *const *names) {
  json_array_begin(buf);
  for (size_t i = 0; names[i] != NULL; i++) json_string(buf, names[i]);
  json_array_end(buf);
}

static void write_schema(struct json_buf *buf, const struct export_resource *resource, enum export_format format,
                         FILE *warnings) {
  json_object_begin(buf);
  json_key(buf, "fields");
  json_array_begin(buf);
  int key_columns = 0;
  for (size_t i = 0; i < resource->field_count; i++) {
    write_field(buf, resource->table->name, &resource->fields[i], format, warnings);
    if (resource->fields[i].key_position > 0) key_columns++;
  }
  json_array_end(buf);
  /* CSV: an empty field is a NULL (an empty string is written "") */
  json_key(buf, "missingValues");
  json_array_begin(buf);
  json_string(buf, "");
  json_array_end(buf);
  if (key_columns > 0) {
    json_key(buf, "primaryKey");
    json_array_begin(buf);
    for (int position = 1; position <= key_columns; position++) {
      for (size_t i = 0; i < resource->field_count; i++) {
        if (resource->fields[i].key_position == position) json_string(buf, resource->fields[i].name);
      }
    }
    json_array_end(buf);
  }
  const struct export_reference *references = resource->table->references;
  if (references[0].table != NULL) {
    json_key(buf, "foreignKeys");
    json_array_begin(buf);
    for (size_t i = 0; references[i].table != NULL; i++) {
      json_object_begin(buf);
      json_key(buf, "fields");
      write_names(buf, references[i].columns);
      json_key(buf, "reference");
      json_object_begin(buf);
      json_key(buf, "resource");
      json_string(buf, references[i].table);
      json_key(buf, "fields");
      write_names(buf, references[i].table_columns);
      json_object_end(buf);
      json_object_end(buf);
    }
    json_array_end(buf);
  }
  json_object_end(buf);
}

static void write_resource(struct json_buf *buf, const struct export_resource *resource, enum export_format format,
                           FILE *warnings) {
  bool csv = format == EXPORT_CSV_GZ;
  json_object_begin(buf);
  json_key(buf, "profile");
  json_string(buf, "tabular-data-resource");
  json_key(buf, "name");
  json_string(buf, resource->table->name);
  json_key(buf, "path");
  json_string(buf, resource->file_name);
  json_key(buf, "title");
  json_string(buf, resource->table->title);
  json_key(buf, "description");
  json_string(buf, resource->table->description);
  json_key(buf, "format");
  json_string(buf, csv ? "csv" : "jsonl");
  json_key(buf, "mediatype");
  json_string(buf, csv ? "text/csv" : "application/jsonl");
  json_key(buf, "compression");
  json_string(buf, "gz");
  json_key(buf, "encoding");
  json_string(buf, "utf-8");
  json_key(buf, "bytes");
  json_uint(buf, resource->bytes);
  json_key(buf, "hash");
  char hash[80];
  snprintf(hash, sizeof hash, "sha256:%s", resource->sha256_hex);
  json_string(buf, hash);
  json_key(buf, "rows");
  json_uint(buf, resource->rows);
  if (csv) {
    /* PostgreSQL's COPY CSV: RFC 4180 quoting, \n line ends, a header line */
    json_key(buf, "dialect");
    json_object_begin(buf);
    json_key(buf, "csvddfVersion");
    json_string(buf, "1.2");
    json_key(buf, "delimiter");
    json_string(buf, ",");
    json_key(buf, "lineTerminator");
    json_string(buf, "\n");
    json_key(buf, "quoteChar");
    json_string(buf, "\"");
    json_key(buf, "doubleQuote");
    json_bool(buf, true);
    json_key(buf, "header");
    json_bool(buf, true);
    json_key(buf, "skipInitialSpace");
    json_bool(buf, false);
    json_object_end(buf);
  }
  json_key(buf, "schema");
  write_schema(buf, resource, format, warnings);
  json_object_end(buf);
}

/* A Data Package name: lower-case alphanumerics, '.', '_', '-'. */
static void package_name(const char *scan_id, char *out, size_t out_len) {
  int n = snprintf(out, out_len, "danescan-");
  for (const char *p = scan_id; *p != '\0' && n >= 0 && (size_t)n + 1 < out_len; p++) {
    char c = *p;
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) c = '-';
    out[n++] = c;
  }
  if (n >= 0 && (size_t)n < out_len) out[n] = '\0';
}

static void write_license(struct json_buf *buf, const char *license) {
  json_object_begin(buf);
  if (license == NULL) {
    json_key(buf, "name");
    json_string(buf, "UNSPECIFIED");
    json_key(buf, "title");
    json_string(buf, "No license chosen yet: pick one before publishing (danescan export --license ID|URL)");
  } else if (strstr(license, "://") != NULL) {
    json_key(buf, "path");
    json_string(buf, license);
  } else {
    json_key(buf, "name");
    json_string(buf, license);
  }
  json_object_end(buf);
}

char *export_package_json(const struct export_package *package, FILE *warnings) {
  struct json_buf buf;
  json_buf_init(&buf);
  char name[128];
  package_name(package->scan_id, name, sizeof name);
  char title[256];
  snprintf(title, sizeof title, "DANE for SMTP: danescan scan %s", package->scan_id);
  json_object_begin(&buf);
  json_key(&buf, "profile");
  json_string(&buf, "tabular-data-package");
  json_key(&buf, "name");
  json_string(&buf, name);
  json_key(&buf, "title");
  json_string(&buf, title);
  json_key(&buf, "description");
  json_string(&buf,
              "Per-domain and per-MX-host results of one danescan scan (DANE for SMTP, RFC 7672): domains, "
              "their MX hosts, MTA-STS and TLS-RPT per domain (RFC 8461, RFC 8460; scan --mta-sts), TLSA "
              "records, addresses, STARTTLS probes, the certificate chains the servers sent and those "
              "certificates. Status words are those of danescan's shared/spec/RESULTS.md.");
  json_key(&buf, "keywords");
  json_array_begin(&buf);
  static const char *const keywords[] = {"DANE",     "SMTP",     "TLSA",    "DNSSEC",
                                         "STARTTLS", "RFC 7672", "MTA-STS", "TLS-RPT"};
  for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++) json_string(&buf, keywords[i]);
  json_array_end(&buf);
  json_key(&buf, "created");
  json_string(&buf, package->created);
  json_key(&buf, "licenses");
  json_array_begin(&buf);
  write_license(&buf, package->license);
  json_array_end(&buf);
  json_key(&buf, "sources");
  if (package->sources_json != NULL) json_value_raw(&buf, package->sources_json);
  else {
    json_array_begin(&buf);
    json_array_end(&buf);
  }
  json_key(&buf, "danescan:scan");
  json_value_raw(&buf, package->scan_json);
  json_key(&buf, "danescan:export");
  json_object_begin(&buf);
  json_key(&buf, "software");
  json_string(&buf, "danescan " DANESCAN_VERSION);
  json_key(&buf, "scan_id");
  json_string(&buf, package->scan_id);
  json_key(&buf, "format");
  json_string(&buf, package->format == EXPORT_CSV_GZ ? "csv.gz" : "jsonl.gz");
  json_object_end(&buf);
  json_key(&buf, "resources");
  json_array_begin(&buf);
  for (size_t i = 0; i < package->resource_count; i++) {
    write_resource(&buf, &package->resources[i], package->format, warnings);
  }
  json_array_end(&buf);
  json_object_end(&buf);
  json_raw(&buf, "\n", 1);
  if (json_buf_failed(&buf)) {
    json_buf_free(&buf);
    return NULL;
  }
  return buf.data;
}
