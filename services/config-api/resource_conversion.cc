#include "services/config-api/resource_conversion.h"

#include "common/json/struct_convert.h"
#include "common/status/status.h"

namespace parley::config {
namespace {

void SetTime(absl::Time t, google::protobuf::Timestamp* out) {
  int64_t micros = absl::ToUnixMicros(t);
  out->set_seconds(micros / 1000000);
  out->set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
}

}  // namespace

absl::StatusOr<parley::v1::Resource> ToProto(const StoredResource& stored) {
  parley::v1::Resource r;
  r.set_kind(stored.kind);
  r.set_name(stored.name);
  PARLEY_ASSIGN_OR_RETURN(*r.mutable_spec(), json::JsonToStruct(stored.spec));
  r.mutable_spec()->mutable_fields()->erase("secret");
  r.set_etag(stored.etag);
  r.set_version(stored.version);
  SetTime(stored.create_time, r.mutable_create_time());
  SetTime(stored.update_time, r.mutable_update_time());
  for (const auto& [k, v] : stored.labels) (*r.mutable_labels())[k] = v;
  return r;
}

}  // namespace parley::config
