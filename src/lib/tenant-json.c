#include "tenant-json.h"

#include <math.h>

json_t *wr_tenant_json(const wr_tenant *t) {
    json_t *j = json_object();
    json_object_set_new(j, "saas_user_id", json_string(t->saas_user_id));
    json_object_set_new(j, "linux_username", json_string(t->linux_username));
    json_object_set_new(j, "linux_uid", json_integer(t->uid));
    json_object_set_new(j, "linux_gid", json_integer(t->gid));
    json_object_set_new(j, "home_dir", json_string(t->home_dir));
    json_object_set_new(j, "created_at", json_real(t->created_at));
    return j;
}

double wr_size_mb(uint64_t bytes) {
    return round((double)bytes / (1024.0 * 1024.0) * 100.0) / 100.0;
}
