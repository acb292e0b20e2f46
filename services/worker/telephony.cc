#include "services/worker/telephony.h"

#include "absl/strings/str_cat.h"
#include "common/json/struct_convert.h"

namespace parley::worker {

bool IsTerminal(LegEventType type) {
  switch (type) {
    case LegEventType::kBusy:
    case LegEventType::kNoAnswer:
    case LegEventType::kDeclined:
    case LegEventType::kFailed:
    case LegEventType::kHangup:
    case LegEventType::kMediaLost:
      return true;
    default:
      return false;
  }
}

absl::StatusOr<std::unique_ptr<CallLeg>> TelephonyByKind::Dial(const DialRequest& request,
                                                               const parley::v1::Resource& trunk) {
  const nlohmann::json spec = json::StructToJson(trunk.spec());
  const std::string kind =
      spec.contains("kind") && spec["kind"].is_string() ? spec["kind"].get<std::string>() : "";
  auto found = by_kind_.find(kind);
  if (found == by_kind_.end() || found->second == nullptr) {
    return absl::UnimplementedError(
        absl::StrCat("trunk ", trunk.name(), ": kind \"", kind, "\" cannot be dialed here"));
  }
  return found->second->Dial(request, trunk);
}

}  // namespace parley::worker
