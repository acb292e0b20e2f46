#include "services/worker/telephony.h"

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

}  // namespace parley::worker
