/* Per-address probe output. Until an address is probed only its result
 * (`skipped`) and the reason are known. */
#include "store/probe_json.h"

void probe_json_write(struct json_buf *buf, const struct host_address *address) {
  json_object_begin(buf);
  json_key(buf, "result");
  json_string(buf, probe_result_name(address->probe_result));
  json_key(buf, "reason");
  json_string(buf, address->probe_reason);
  json_object_end(buf);
}

void probe_json_write_host_extras(struct json_buf *buf, const struct mx_host *host) {
  (void)buf;
  (void)host;
}
