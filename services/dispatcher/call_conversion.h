// Conversion of the live call store's records (common/calls) into the API's messages
// (parley.v1.Call, parley.v1.CallEvent). Pure functions, no I/O.
//
//   parley::v1::Call call = ToProtoCall(record);          // to_masked, times, context filled
//   parley::v1::CallEvent event = ToProtoEvent(stored);  // detail copied, type defaulted
//
// Times: the store keeps Unix milliseconds (0 = unset); unset times stay unset in the message.
#pragma once

#include <google/protobuf/timestamp.pb.h>

#include <cstdint>

#include "common/calls/call_store.h"
#include "parley/v1/dispatcher.pb.h"

namespace parley::dispatcher {

// The API view of a call. `schedule_at` is set only while the call is SCHEDULED; `end_time` is the
// last update of a terminal call; `answer_time` is left unset (the store does not record it).
// A context that is not a JSON object (never written by the dispatcher) comes back empty.
// `context`, when given, is used as the call's context instead of parsing record.context_json
// (CreateCall answering with the request's own context: no JSON round trip).
parley::v1::Call ToProtoCall(const calls::CallRecord& record,
                             const google::protobuf::Struct* context = nullptr);

// The API view of an event; an empty `type` becomes "status".
parley::v1::CallEvent ToProtoEvent(const calls::CallEvent& event);

// Unix milliseconds → Timestamp, and back (Timestamp → ms, truncating sub-millisecond parts).
google::protobuf::Timestamp MillisToTimestamp(int64_t ms);
int64_t TimestampToMillis(const google::protobuf::Timestamp& ts);

// True when this event ends the call for good: a terminal status event that did not schedule a
// retry (no `retry_at` detail). WatchCall ends after it.
bool IsFinalEvent(const calls::CallEvent& event);

}  // namespace parley::dispatcher
