#include "common/calls/call_store.h"

#include <algorithm>
#include <array>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/calls/call_scripts.h"
#include "common/calls/dnc_index.h"
#include "common/status/status.h"

namespace parley::calls {
namespace {

using redis::RedisReply;

constexpr std::array<std::pair<CallStatus, std::string_view>, 14> kStatusNames = {{
    {parley::v1::CALL_STATUS_QUEUED, "queued"},
    {parley::v1::CALL_STATUS_SCHEDULED, "scheduled"},
    {parley::v1::CALL_STATUS_ASSIGNED, "assigned"},
    {parley::v1::CALL_STATUS_DIALING, "dialing"},
    {parley::v1::CALL_STATUS_RINGING, "ringing"},
    {parley::v1::CALL_STATUS_IN_PROGRESS, "in_progress"},
    {parley::v1::CALL_STATUS_COMPLETED, "completed"},
    {parley::v1::CALL_STATUS_BUSY, "busy"},
    {parley::v1::CALL_STATUS_NO_ANSWER, "no_answer"},
    {parley::v1::CALL_STATUS_DECLINED, "declined"},
    {parley::v1::CALL_STATUS_VOICEMAIL, "voicemail"},
    {parley::v1::CALL_STATUS_FAILED, "failed"},
    {parley::v1::CALL_STATUS_CANCELED, "canceled"},
    {parley::v1::CALL_STATUS_REJECTED, "rejected"},
}};

int64_t ToInt(const std::string& s) {
  int64_t v = 0;
  return absl::SimpleAtoi(s, &v) ? v : 0;
}

std::string Field(const absl::flat_hash_map<std::string, std::string>& h, const char* key) {
  auto it = h.find(key);
  return it == h.end() ? "" : it->second;
}

CallRecord FromHash(const absl::flat_hash_map<std::string, std::string>& h) {
  CallRecord c;
  c.call_id = Field(h, "call_id");
  c.status = ParseStatus(Field(h, "status")).value_or(parley::v1::CALL_STATUS_UNSPECIFIED);
  c.attempt = static_cast<int>(ToInt(Field(h, "attempt")));
  c.max_attempts = static_cast<int>(ToInt(Field(h, "max_attempts")));
  c.to = Field(h, "to");
  c.from = Field(h, "from");
  c.agent = Field(h, "agent");
  c.campaign = Field(h, "campaign");
  c.context_json = Field(h, "context");
  c.overrides_json = Field(h, "overrides");
  c.direction = Field(h, "direction");
  c.lead_id = Field(h, "lead_id");
  c.idempotency_key = Field(h, "idem");
  c.owner = Field(h, "owner");
  c.lease_until_ms = ToInt(Field(h, "lease_until"));
  c.created_ms = ToInt(Field(h, "created"));
  c.updated_ms = ToInt(Field(h, "updated"));
  c.due_ms = ToInt(Field(h, "due"));
  c.answered_ms = ToInt(Field(h, "answered"));
  c.ended_ms = ToInt(Field(h, "ended"));
  c.ended_reason = Field(h, "ended_reason");
  c.cancel_requested = Field(h, "cancel") == "1";
  c.cancel_reason = Field(h, "cancel_reason");
  c.dialed_attempt = static_cast<int>(ToInt(Field(h, "dialed")));
  return c;
}

void AppendDetail(const std::map<std::string, std::string>& detail,
                  std::vector<std::string>* args) {
  for (const auto& [k, v] : detail) {
    args->push_back(absl::StrCat("d.", k));
    args->push_back(v);
  }
}

}  // namespace

CallEvent ParseEventEntry(const RedisReply& entry) {
  CallEvent e;
  if (entry.elements.size() < 2) return e;
  e.event_id = entry.elements[0].str;
  const auto& fields = entry.elements[1].elements;
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    const std::string& k = fields[i].str;
    const std::string& v = fields[i + 1].str;
    if (k == "type")
      e.type = v;
    else if (k == "call_id")
      e.call_id = v;
    else if (k == "status")
      e.status = ParseStatus(v).value_or(parley::v1::CALL_STATUS_UNSPECIFIED);
    else if (k == "ended_reason")
      e.ended_reason = v;
    else if (k == "attempt")
      e.attempt = static_cast<int>(ToInt(v));
    else if (k == "worker")
      e.worker = v;
    else if (k == "campaign")
      e.campaign = v;
    else if (k == "time")
      e.time_ms = ToInt(v);
    else if (k.rfind("d.", 0) == 0)
      e.detail[k.substr(2)] = v;
  }
  return e;
}

namespace {

// XREAD / XRANGE replies → events. XREAD: [[stream, [entries]]]; XRANGE: [entries].
std::vector<CallEvent> EventsFromXread(const RedisReply& reply) {
  std::vector<CallEvent> out;
  if (!reply.is_array()) return out;
  for (const RedisReply& stream : reply.elements) {
    if (stream.elements.size() < 2) continue;
    for (const RedisReply& entry : stream.elements[1].elements)
      out.push_back(ParseEventEntry(entry));
  }
  return out;
}

std::vector<Job> JobsFromEntries(const RedisReply& entries) {
  std::vector<Job> jobs;
  for (const RedisReply& entry : entries.elements) {
    if (entry.elements.size() < 2 || !entry.elements[1].is_array()) continue;
    Job job;
    job.stream_id = entry.elements[0].str;
    const auto& fields = entry.elements[1].elements;
    for (size_t i = 0; i + 1 < fields.size(); i += 2) {
      if (fields[i].str == "call_id") job.call_id = fields[i + 1].str;
      if (fields[i].str == "attempt") job.attempt = static_cast<int>(ToInt(fields[i + 1].str));
    }
    jobs.push_back(std::move(job));
  }
  return jobs;
}

absl::Status Stale(std::string_view what, const Fence& fence) {
  return absl::FailedPreconditionError(absl::StrCat(AbslView(what), ": call ", fence.call_id,
                                                    " attempt ", fence.attempt,
                                                    " is no longer owned by ", fence.worker));
}

}  // namespace

std::string_view StatusName(CallStatus status) {
  for (const auto& [s, name] : kStatusNames) {
    if (s == status) return name;
  }
  return "unspecified";
}

std::optional<CallStatus> ParseStatus(std::string_view name) {
  for (const auto& [s, n] : kStatusNames) {
    if (n == name) return s;
  }
  return std::nullopt;
}

bool IsTerminal(CallStatus status) {
  switch (status) {
    case parley::v1::CALL_STATUS_COMPLETED:
    case parley::v1::CALL_STATUS_BUSY:
    case parley::v1::CALL_STATUS_NO_ANSWER:
    case parley::v1::CALL_STATUS_DECLINED:
    case parley::v1::CALL_STATUS_VOICEMAIL:
    case parley::v1::CALL_STATUS_FAILED:
    case parley::v1::CALL_STATUS_CANCELED:
    case parley::v1::CALL_STATUS_REJECTED:
      return true;
    default:
      return false;
  }
}

CallStore::CallStore(redis::RedisPool* redis, StoreOptions options)
    : redis_(redis),
      options_(std::move(options)),
      create_batcher_(
          redis, internal::CreateScript(),
          {.max_batch = options_.max_create_batch, .max_runs = options_.max_create_runs}),
      create_head_({options_.prefix, absl::StrCat(options_.idempotency_ttl_s),
                    absl::StrCat(options_.global_events_maxlen),
                    absl::StrCat(options_.call_events_ttl_s),
                    options_.dnc_key.empty() ? DncIndexKey(options_.prefix) : options_.dnc_key}) {}

std::string CallStore::Key(std::string_view suffix) const {
  return absl::StrCat(options_.prefix, AbslView(suffix));
}

absl::Status CallStore::EnsureGroup() {
  absl::StatusOr<RedisReply> r =
      redis_->Command({"XGROUP", "CREATE", Key("jobs"), "workers", "0", "MKSTREAM"});
  if (r.ok() || r.status().code() == absl::StatusCode::kAlreadyExists) return absl::OkStatus();
  return r.status();
}

namespace {

// Create's arguments for the script (after the head) for `call`.
std::vector<std::string> CreateArgs(const CallRecord& call, int64_t now_ms,
                                    const CreateChecks& checks) {
  const bool scheduled = call.due_ms > now_ms;
  // In the order the Create script reads them (call_scripts.cc).
  return {call.call_id,
          absl::StrCat(now_ms),
          scheduled ? "scheduled" : "queued",
          absl::StrCat(call.due_ms),
          call.idempotency_key,
          absl::StrCat(call.attempt),
          call.campaign,
          call.to,
          checks.dnc ? "1" : "",
          checks.reject_reason,
          absl::StrCat(call.max_attempts),
          call.from,
          call.agent,
          call.context_json,
          call.overrides_json,
          call.direction,
          call.lead_id};
}

// The Create script's reply for `call` (one element of a batched run) → the result.
absl::StatusOr<CreateResult> CreateResultFromReply(CallRecord call, int64_t now_ms,
                                                   absl::StatusOr<RedisReply> reply) {
  if (!reply.ok()) return reply.status();
  const RedisReply& r = *reply;
  if (!r.is_array() || r.elements.size() < 2) {
    return absl::InternalError("create: unexpected reply");
  }
  const std::string& outcome = r.elements[0].str;
  CreateResult result;
  if (outcome == "exists") {
    return absl::AlreadyExistsError(absl::StrCat("call ", call.call_id, " already exists"));
  }
  if (outcome == "dnc_unknown") {
    result.call = std::move(call);
    result.dnc_unknown = true;
    return result;
  }
  if (outcome == "existing") {
    if (r.elements.size() != 3) return absl::InternalError("create: unexpected reply");
    PARLEY_ASSIGN_OR_RETURN(auto hash, r.elements[2].AsMap());
    if (hash.empty()) {
      return absl::NotFoundError(absl::StrCat("call \"", r.elements[1].str, "\" expired"));
    }
    result.call = FromHash(hash);
    return result;
  }
  // A new call: the hash holds exactly what was sent plus the fields set below.
  result.created = true;
  result.call = std::move(call);
  result.call.created_ms = result.call.updated_ms = now_ms;
  result.call.owner.clear();
  result.call.lease_until_ms = 0;
  result.call.dialed_attempt = 0;
  result.call.answered_ms = 0;
  result.call.cancel_requested = false;
  result.call.cancel_reason.clear();
  if (outcome == "rejected" && r.elements.size() == 4) {
    result.call.status = parley::v1::CALL_STATUS_REJECTED;
    result.call.ended_reason = r.elements[2].str;
    result.call.ended_ms = now_ms;
    result.call.due_ms = 0;
    result.dnc_list = r.elements[3].str;
    return result;
  }
  if (outcome != "created" || r.elements.size() != 3) {
    return absl::InternalError("create: unexpected reply");
  }
  result.call.status = r.elements[2].str == "scheduled" ? parley::v1::CALL_STATUS_SCHEDULED
                                                        : parley::v1::CALL_STATUS_QUEUED;
  result.call.ended_reason.clear();
  result.call.ended_ms = 0;
  return result;
}

}  // namespace

absl::StatusOr<CreateResult> CallStore::Create(CallRecord call, int64_t now_ms,
                                               const CreateChecks& checks) {
  absl::StatusOr<RedisReply> r =
      create_batcher_.Run(create_head_, CreateArgs(call, now_ms, checks));
  return CreateResultFromReply(std::move(call), now_ms, std::move(r));
}

void CallStore::CreateAsync(CallRecord call, int64_t now_ms, const CreateChecks& checks,
                            CreateDone done) {
  std::vector<std::string> args = CreateArgs(call, now_ms, checks);
  create_batcher_.RunAsync(create_head_, std::move(args),
                           [call = std::move(call), now_ms,
                            done = std::move(done)](absl::StatusOr<RedisReply> r) mutable {
                             done(CreateResultFromReply(std::move(call), now_ms, std::move(r)));
                           });
}

absl::StatusOr<CreateResult> CallStore::CreateRejected(CallRecord call,
                                                       std::string_view ended_reason,
                                                       int64_t now_ms) {
  return Create(std::move(call), now_ms, {.reject_reason = std::string(ended_reason)});
}

absl::StatusOr<std::optional<CallRecord>> CallStore::FindByIdempotencyKey(std::string_view key) {
  PARLEY_ASSIGN_OR_RETURN(RedisReply r,
                          redis_->Command({"GET", Key(absl::StrCat("idem:", AbslView(key)))}));
  if (r.is_nil()) return std::optional<CallRecord>();
  absl::StatusOr<CallRecord> call = Get(r.str);
  if (call.status().code() == absl::StatusCode::kNotFound) return std::optional<CallRecord>();
  if (!call.ok()) return call.status();
  return std::optional<CallRecord>(*std::move(call));
}

absl::StatusOr<std::string> CallStore::LastEventId() {
  PARLEY_ASSIGN_OR_RETURN(RedisReply r,
                          redis_->Command({"XREVRANGE", Key("events"), "+", "-", "COUNT", "1"}));
  if (!r.is_array() || r.elements.empty() || r.elements[0].elements.empty()) {
    return std::string("0-0");
  }
  return r.elements[0].elements[0].str;
}

absl::StatusOr<CallRecord> CallStore::Get(std::string_view call_id) {
  PARLEY_ASSIGN_OR_RETURN(
      RedisReply r, redis_->Command({"HGETALL", Key(absl::StrCat("call:", AbslView(call_id)))}));
  PARLEY_ASSIGN_OR_RETURN(auto hash, r.AsMap());
  if (hash.empty()) {
    return absl::NotFoundError(absl::StrCat("call \"", AbslView(call_id), "\" not found"));
  }
  return FromHash(hash);
}

absl::StatusOr<CallStore::Page> CallStore::List(std::string_view campaign,
                                                const std::vector<CallStatus>& statuses,
                                                int page_size, std::string_view cursor) {
  int size = page_size <= 0 ? 50 : std::min(page_size, 1000);
  // The token is the offset of the page's first call in the index; a negative one would count
  // from the oldest call, and one near INT64_MAX overflow the batch arithmetic below.
  constexpr int64_t kMaxOffset = int64_t{1} << 48;
  int64_t offset = 0;
  if (!cursor.empty() &&
      (!absl::SimpleAtoi(AbslView(cursor), &offset) || offset < 0 || offset > kMaxOffset)) {
    return InvalidField("page.page_token", "not a token from a previous page");
  }
  std::string index = campaign.empty()
                          ? Key("calls:created")
                          : Key(absl::StrCat("campaign:", AbslView(campaign), ":calls"));
  Page page;
  // Status filtering happens after reading, so read in batches until the page is full.
  constexpr int kBatch = 200;
  while (static_cast<int>(page.calls.size()) < size) {
    PARLEY_ASSIGN_OR_RETURN(RedisReply ids,
                            redis_->Command({"ZREVRANGE", index, absl::StrCat(offset),
                                             absl::StrCat(offset + kBatch - 1)}));
    if (ids.elements.empty()) return page;
    std::vector<std::vector<std::string>> cmds;
    for (const RedisReply& id : ids.elements) cmds.push_back({"HGETALL", Key("call:" + id.str)});
    PARLEY_ASSIGN_OR_RETURN(std::vector<RedisReply> hashes, redis_->Pipeline(cmds));
    for (size_t i = 0; i < hashes.size(); ++i) {
      ++offset;
      absl::StatusOr<absl::flat_hash_map<std::string, std::string>> h = hashes[i].AsMap();
      if (!h.ok() || h->empty()) continue;  // expired call still in the index
      CallRecord c = FromHash(*h);
      if (!statuses.empty() &&
          std::find(statuses.begin(), statuses.end(), c.status) == statuses.end()) {
        continue;
      }
      page.calls.push_back(std::move(c));
      if (static_cast<int>(page.calls.size()) == size) {
        page.next_cursor = absl::StrCat(offset);
        return page;
      }
    }
    if (static_cast<int>(ids.elements.size()) < kBatch) return page;
  }
  return page;
}

absl::StatusOr<std::vector<CallEvent>> CallStore::ReadEvents(std::string_view call_id,
                                                             std::string_view after_id, int count,
                                                             int block_ms) {
  std::string stream = Key(absl::StrCat("call:", AbslView(call_id), ":events"));
  std::vector<std::string> cmd = {"XREAD", "COUNT", absl::StrCat(count)};
  if (block_ms > 0) {
    cmd.push_back("BLOCK");
    cmd.push_back(absl::StrCat(block_ms));
  }
  cmd.insert(cmd.end(), {"STREAMS", stream, after_id.empty() ? "0" : std::string(after_id)});
  PARLEY_ASSIGN_OR_RETURN(RedisReply r,
                          redis_->Command(cmd, absl::Milliseconds(block_ms) + absl::Seconds(2)));
  return EventsFromXread(r);
}

absl::StatusOr<std::vector<CallEvent>> CallStore::ReadAllEvents(std::string_view after_id,
                                                                int count, int block_ms) {
  std::vector<std::string> cmd = {"XREAD", "COUNT", absl::StrCat(count)};
  if (block_ms > 0) {
    cmd.push_back("BLOCK");
    cmd.push_back(absl::StrCat(block_ms));
  }
  cmd.insert(cmd.end(), {"STREAMS", Key("events"), after_id.empty() ? "$" : std::string(after_id)});
  PARLEY_ASSIGN_OR_RETURN(RedisReply r,
                          redis_->Command(cmd, absl::Milliseconds(block_ms) + absl::Seconds(2)));
  return EventsFromXread(r);
}

absl::Status CallStore::AppendEvent(const Fence& fence, CallEvent event, int64_t now_ms) {
  std::vector<std::string> args = {options_.prefix,
                                   fence.call_id,
                                   absl::StrCat(fence.attempt),
                                   fence.worker,
                                   absl::StrCat(options_.global_events_maxlen),
                                   "type",
                                   event.type,
                                   "call_id",
                                   fence.call_id,
                                   "attempt",
                                   absl::StrCat(fence.attempt),
                                   "worker",
                                   fence.worker,
                                   "campaign",
                                   event.campaign,
                                   "time",
                                   absl::StrCat(now_ms)};
  AppendDetail(event.detail, &args);
  PARLEY_ASSIGN_OR_RETURN(RedisReply r, redis_->Eval(internal::AppendEventScript(),
                                                     {Key("call:" + fence.call_id)}, args));
  if (r.str == "stale") return Stale("append event", fence);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Job>> CallStore::ReadJobs(std::string_view worker, int count,
                                                     int block_ms) {
  std::vector<std::string> cmd = {"XREADGROUP",        "GROUP", "workers",
                                  std::string(worker), "COUNT", absl::StrCat(count)};
  if (block_ms > 0) {
    cmd.push_back("BLOCK");
    cmd.push_back(absl::StrCat(block_ms));
  }
  cmd.insert(cmd.end(), {"STREAMS", Key("jobs"), ">"});
  PARLEY_ASSIGN_OR_RETURN(RedisReply r,
                          redis_->Command(cmd, absl::Milliseconds(block_ms) + absl::Seconds(2)));
  std::vector<Job> jobs;
  if (!r.is_array()) return jobs;
  for (const RedisReply& stream : r.elements) {
    if (stream.elements.size() < 2) continue;
    for (Job& j : JobsFromEntries(stream.elements[1])) jobs.push_back(std::move(j));
  }
  return jobs;
}

absl::Status CallStore::AckJob(std::string_view stream_id) {
  std::string id(stream_id);
  PARLEY_ASSIGN_OR_RETURN(auto replies, redis_->Pipeline({{"XACK", Key("jobs"), "workers", id},
                                                          {"XDEL", Key("jobs"), id}}));
  for (const RedisReply& r : replies) {
    if (r.is_error()) return absl::InternalError(absl::StrCat("ack: ", r.str));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Job>> CallStore::ClaimStaleJobs(std::string_view worker,
                                                           int64_t min_idle_ms, int count) {
  PARLEY_ASSIGN_OR_RETURN(
      RedisReply r,
      redis_->Command({"XAUTOCLAIM", Key("jobs"), "workers", std::string(worker),
                       absl::StrCat(min_idle_ms), "0", "COUNT", absl::StrCat(count)}));
  // [next-cursor, [entries], [deleted ids]]
  if (!r.is_array() || r.elements.size() < 2) return std::vector<Job>{};
  std::vector<Job> jobs = JobsFromEntries(r.elements[1]);
  // Entries deleted from the stream but still pending come back as nil: ack them away.
  for (const RedisReply& entry : r.elements[1].elements) {
    if (entry.elements.size() >= 2 && entry.elements[1].is_nil()) {
      PARLEY_RETURN_IF_ERROR(AckJob(entry.elements[0].str));
    }
  }
  return jobs;
}

absl::StatusOr<Fence> CallStore::Claim(const Job& job, std::string_view worker, int64_t lease_ms,
                                       int64_t now_ms) {
  PARLEY_ASSIGN_OR_RETURN(
      RedisReply r,
      redis_->Eval(internal::ClaimScript(), {Key("call:" + job.call_id)},
                   {options_.prefix, job.call_id, absl::StrCat(job.attempt), std::string(worker),
                    absl::StrCat(now_ms + lease_ms), absl::StrCat(now_ms),
                    absl::StrCat(options_.global_events_maxlen)}));
  Fence fence{.call_id = job.call_id,
              .attempt = job.attempt,
              .worker = std::string(worker),
              .job_id = job.stream_id};
  if (r.str != "ok") return Stale("claim", fence);
  return fence;
}

absl::StatusOr<ReclaimAction> CallStore::Reclaim(const Job& job, int64_t now_ms,
                                                 const RetryDecision& retry) {
  PARLEY_ASSIGN_OR_RETURN(
      RedisReply r,
      redis_->Eval(internal::ReclaimScript(), {Key("call:" + job.call_id)},
                   {options_.prefix, job.call_id, absl::StrCat(job.attempt), absl::StrCat(now_ms),
                    absl::StrCat(retry.retry_at_ms), absl::StrCat(options_.global_events_maxlen),
                    absl::StrCat(options_.call_events_ttl_s)}));
  if (r.str == "run") return ReclaimAction::kRunAgain;
  if (r.str == "lost") return ReclaimAction::kWorkerLost;
  if (r.str == "alive") return ReclaimAction::kAlive;
  return ReclaimAction::kDrop;
}

absl::Status CallStore::Defer(const Job& job, std::string_view worker, int64_t due_ms,
                              std::string_view reason, int64_t now_ms) {
  PARLEY_ASSIGN_OR_RETURN(
      RedisReply r,
      redis_->Eval(internal::DeferScript(), {Key("call:" + job.call_id)},
                   {options_.prefix, job.call_id, absl::StrCat(job.attempt), std::string(worker),
                    absl::StrCat(due_ms), job.stream_id, std::string(reason), absl::StrCat(now_ms),
                    absl::StrCat(options_.global_events_maxlen)}));
  if (r.str != "ok") {
    return Stale("defer",
                 {.call_id = job.call_id, .attempt = job.attempt, .worker = std::string(worker)});
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> CallStore::Renew(const Fence& fence, int64_t lease_ms, int64_t now_ms) {
  PARLEY_ASSIGN_OR_RETURN(
      RedisReply r, redis_->Eval(internal::RenewScript(), {Key("call:" + fence.call_id)},
                                 {options_.prefix, fence.call_id, absl::StrCat(fence.attempt),
                                  fence.worker, absl::StrCat(now_ms + lease_ms), fence.job_id}));
  if (r.str == "lost") return Stale("renew", fence);
  return r.str == "cancel";
}

absl::Status CallStore::Transition(const Fence& fence, CallStatus status, int64_t now_ms,
                                   const std::map<std::string, std::string>& detail) {
  std::vector<std::string> args = {options_.prefix,
                                   fence.call_id,
                                   absl::StrCat(fence.attempt),
                                   fence.worker,
                                   std::string(StatusName(status)),
                                   absl::StrCat(now_ms),
                                   absl::StrCat(options_.global_events_maxlen)};
  AppendDetail(detail, &args);
  PARLEY_ASSIGN_OR_RETURN(RedisReply r, redis_->Eval(internal::TransitionScript(),
                                                     {Key("call:" + fence.call_id)}, args));
  if (r.str != "ok")
    return Stale(absl::StrCat("transition to ", AbslView(StatusName(status))), fence);
  return absl::OkStatus();
}

absl::StatusOr<bool> CallStore::TakeSlot(std::string_view campaign, std::string_view call_id,
                                         int max_concurrent, int64_t lease_until_ms,
                                         int64_t now_ms) {
  PARLEY_ASSIGN_OR_RETURN(
      RedisReply r, redis_->Eval(internal::TakeSlotScript(),
                                 {Key(absl::StrCat("campaign:", AbslView(campaign), ":active"))},
                                 {std::string(call_id), absl::StrCat(max_concurrent),
                                  absl::StrCat(lease_until_ms), absl::StrCat(now_ms)}));
  return r.integer == 1;
}

absl::Status CallStore::ReleaseSlot(std::string_view campaign, std::string_view call_id) {
  return redis_
      ->Command({"ZREM", Key(absl::StrCat("campaign:", AbslView(campaign), ":active")),
                 std::string(call_id)})
      .status();
}

absl::StatusOr<int> CallStore::ActiveSlots(std::string_view campaign, int64_t now_ms) {
  PARLEY_ASSIGN_OR_RETURN(
      RedisReply r,
      redis_->Command({"ZCOUNT", Key(absl::StrCat("campaign:", AbslView(campaign), ":active")),
                       absl::StrCat(now_ms), "+inf"}));
  return static_cast<int>(r.integer);
}

absl::StatusOr<CallRecord> CallStore::FinishAttempt(
    const Fence& fence, CallStatus outcome, std::string_view ended_reason,
    const RetryDecision& retry, int64_t now_ms, const std::map<std::string, std::string>& detail) {
  if (!IsTerminal(outcome)) {
    return absl::InvalidArgumentError(
        absl::StrCat("outcome: ", AbslView(StatusName(outcome)), " is not terminal"));
  }
  std::vector<std::string> args = {options_.prefix,
                                   fence.call_id,
                                   absl::StrCat(fence.attempt),
                                   fence.worker,
                                   std::string(StatusName(outcome)),
                                   std::string(ended_reason),
                                   absl::StrCat(now_ms),
                                   absl::StrCat(retry.retry_at_ms),
                                   absl::StrCat(options_.global_events_maxlen),
                                   absl::StrCat(options_.call_events_ttl_s)};
  AppendDetail(detail, &args);
  PARLEY_ASSIGN_OR_RETURN(
      RedisReply r, redis_->Eval(internal::FinishScript(), {Key("call:" + fence.call_id)}, args));
  if (r.str != "ok") return Stale("finish", fence);
  return Get(fence.call_id);
}

absl::StatusOr<CallRecord> CallStore::Cancel(std::string_view call_id, std::string_view reason,
                                             int64_t now_ms) {
  std::string id(call_id);
  PARLEY_ASSIGN_OR_RETURN(RedisReply r,
                          redis_->Eval(internal::CancelScript(), {Key("call:" + id)},
                                       {options_.prefix, id, absl::StrCat(now_ms),
                                        reason.empty() ? "canceled" : std::string(reason),
                                        absl::StrCat(options_.global_events_maxlen),
                                        absl::StrCat(options_.call_events_ttl_s)}));
  if (r.str == "missing") return absl::NotFoundError(absl::StrCat("call \"", id, "\" not found"));
  return Get(id);
}

absl::StatusOr<int> CallStore::PromoteDue(int64_t now_ms, int limit) {
  PARLEY_ASSIGN_OR_RETURN(RedisReply r,
                          redis_->Eval(internal::PromoteScript(), {Key("delayed")},
                                       {options_.prefix, absl::StrCat(now_ms), absl::StrCat(limit),
                                        absl::StrCat(options_.global_events_maxlen)}));
  return static_cast<int>(r.integer);
}

}  // namespace parley::calls
