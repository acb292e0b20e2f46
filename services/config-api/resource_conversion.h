// StoredResource ↔ parley.v1.Resource.
#pragma once

#include "absl/status/statusor.h"
#include "parley/v1/config.pb.h"
#include "services/config-api/config_store.h"

namespace parley::config {

// The API form of a stored resource. Credentials never carry a secret (the store does not keep one
// in the spec). INTERNAL only if a stored spec is not a JSON object.
absl::StatusOr<parley::v1::Resource> ToProto(const StoredResource& stored);

}  // namespace parley::config
