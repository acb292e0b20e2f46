#include "common/status/status.h"

#include <string>

namespace parley {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl::StatusCode and grpc::StatusCode share the canonical numbering.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

absl::Status InvalidField(std::string_view field, std::string_view reason) {
  // Debian's abseil has its own string_view (not std::string_view), so build the text here.
  std::string message;
  message.reserve(field.size() + reason.size() + 2);
  message.append(field).append(": ").append(reason);
  return absl::InvalidArgumentError(message);
}

absl::Status CheckPrintable(std::string_view field, std::string_view value, size_t max) {
  if (value.size() > max) return InvalidField(field, absl::StrCat("at most ", max, " characters"));
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f) return InvalidField(field, "must not contain control characters");
  }
  return absl::OkStatus();
}

}  // namespace parley
