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

const char* LegEventName(LegEventType type) {
  switch (type) {
    case LegEventType::kRinging:
      return "ringing";
    case LegEventType::kAnswered:
      return "answered";
    case LegEventType::kBusy:
      return "busy";
    case LegEventType::kNoAnswer:
      return "no_answer";
    case LegEventType::kDeclined:
      return "declined";
    case LegEventType::kFailed:
      return "failed";
    case LegEventType::kHangup:
      return "hangup";
    case LegEventType::kMediaLost:
      return "media_lost";
    case LegEventType::kDtmf:
      return "dtmf";
    case LegEventType::kMark:
      return "mark";
  }
  return "unknown";
}

}  // namespace parley::worker
