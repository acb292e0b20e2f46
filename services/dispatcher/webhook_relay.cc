#include "services/dispatcher/webhook_relay.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/log/redact.h"
#include "common/status/status.h"
#include "services/dispatcher/call_conversion.h"

namespace parley::dispatcher {
namespace {

constexpr char kGroup[] = "webhooks";

std::string Rfc3339(int64_t ms) {
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E3SZ", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

}  // namespace

std::string StatusWebhookBody(const calls::CallEvent& event) {
  parley::v1::CallEvent api = ToProtoEvent(event);  // detail times as RFC 3339
  nlohmann::json detail = nlohmann::json::object();
  for (const auto& [k, v] : api.detail()) detail[k] = v;
  return nlohmann::json{{"type", "status"},
                        {"event_id", event.event_id},
                        {"call_id", event.call_id},
                        {"campaign", event.campaign},
                        {"status", calls::StatusName(event.status)},
                        {"ended_reason", event.ended_reason},
                        {"attempt", event.attempt},
                        {"worker_id", event.worker},
                        {"time", Rfc3339(event.time_ms)},
                        {"detail", std::move(detail)}}
      .dump();
}

std::string ReportWebhookBody(const calls::CallEvent& final_event, const calls::CallRecord& call) {
  nlohmann::json context =
      nlohmann::json::parse(call.context_json, nullptr, /*allow_exceptions=*/false);
  if (!context.is_object()) context = nlohmann::json::object();
  return nlohmann::json{{"type", "report"},
                        {"event_id", final_event.event_id},
                        {"call",
                         {{"call_id", call.call_id},
                          {"status", calls::StatusName(call.status)},
                          {"ended_reason", call.ended_reason},
                          {"agent", call.agent},
                          {"campaign", call.campaign},
                          {"attempt", call.attempt},
                          {"max_attempts", call.max_attempts},
                          {"to_masked", log::MaskPhone(call.to)},
                          {"lead_id", call.lead_id},
                          {"create_time", Rfc3339(call.created_ms)},
                          {"end_time", Rfc3339(call.updated_ms)},
                          {"context", std::move(context)}}}}
      .dump();
}

WebhookRelay::WebhookRelay(redis::RedisPool* redis, calls::CallStore* store, ConfigClient* config,
                           WebhookRelayOptions options)
    : redis_(redis),
      store_(store),
      config_(config),
      options_(std::move(options)),
      stream_(store->Key("events")) {}

WebhookRelay::~WebhookRelay() { Stop(); }

absl::Status WebhookRelay::EnsureGroup() {
  absl::StatusOr<redis::RedisReply> r =
      redis_->Command({"XGROUP", "CREATE", stream_, kGroup, "$", "MKSTREAM"});
  if (r.ok() || absl::IsAlreadyExists(r.status())) return absl::OkStatus();
  return r.status();
}

void WebhookRelay::Start() {
  if (!threads_.empty() || stop_.HasBeenNotified()) return;
  for (int i = 0; i < std::max(options_.threads, 1); ++i) {
    threads_.emplace_back([this, i] { Loop(i); });
  }
}

void WebhookRelay::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void WebhookRelay::Loop(int consumer) {
  WebhookSender sender({.timeout = options_.http_timeout});
  bool failing = false;
  bool group = false;
  while (!stop_.HasBeenNotified()) {
    absl::Status s = group ? absl::OkStatus() : EnsureGroup();
    group = s.ok();
    absl::StatusOr<int> round = s.ok() ? RunOnce(consumer, sender) : s;
    if (round.ok()) {
      failing = false;
      continue;
    }
    group = false;  // e.g. Redis restarted empty (NOGROUP): create it again
    if (!failing) {
      log::Warn("webhook relay: cannot read events; retrying",
                {{"error", std::string(round.status().message())}});
    }
    failing = true;
    stop_.WaitForNotificationWithTimeout(absl::Seconds(1));
  }
}

absl::Duration WebhookRelay::Backoff(int64_t deliveries) const {
  absl::Duration d = options_.initial_backoff;
  for (int64_t i = 1; i < deliveries && d < options_.max_backoff; ++i) d *= 2;
  return std::min(d, options_.max_backoff);
}

absl::Status WebhookRelay::Ack(const std::vector<std::string>& ids) {
  if (ids.empty()) return absl::OkStatus();
  std::vector<std::string> cmd = {"XACK", stream_, kGroup};
  cmd.insert(cmd.end(), ids.begin(), ids.end());
  return redis_->Command(cmd).status();
}

WebhookRelay::Outcome WebhookRelay::Handle(const calls::CallEvent& event, WebhookSender& sender,
                                           int* delivered) {
  if (event.campaign.empty()) return Outcome::kDone;
  absl::StatusOr<std::optional<WebhookTarget>> target = config_->GetWebhook(event.campaign);
  if (absl::IsNotFound(target.status())) return Outcome::kDone;  // campaign deleted since
  if (!target.ok()) {
    log::Warn("webhook: cannot resolve the campaign's webhook",
              {{"campaign", event.campaign}, {"error", std::string(target.status().message())}});
    return Outcome::kRetry;
  }
  if (!*target) return Outcome::kDone;
  const bool is_status = event.type.empty() || event.type == "status";
  std::vector<std::pair<std::string, std::string>> posts;  // (delivery id, body)
  if ((*target)->status_events && is_status) {
    posts.emplace_back(event.event_id, StatusWebhookBody(event));
  }
  if ((*target)->reports && IsFinalEvent(event)) {
    absl::StatusOr<calls::CallRecord> call = store_->Get(event.call_id);
    if (call.ok()) {
      posts.emplace_back(event.event_id + "/report", ReportWebhookBody(event, *call));
    } else if (!absl::IsNotFound(call.status())) {
      return Outcome::kRetry;
    }
  }
  for (const auto& [id, body] : posts) {
    absl::Status s = sender.Post((*target)->url, (*target)->secret, body, id);
    if (!s.ok()) {
      log::Warn("webhook delivery failed; will retry", {{"campaign", event.campaign},
                                                        {"call_id", event.call_id},
                                                        {"event_id", id},
                                                        {"error", std::string(s.message())}});
      return Outcome::kRetry;
    }
    ++*delivered;
    ++delivered_;
  }
  return Outcome::kDone;
}

absl::StatusOr<int> WebhookRelay::RetryDue(const std::string& me, WebhookSender& sender) {
  const std::string min_idle = absl::StrCat(absl::ToInt64Milliseconds(options_.initial_backoff));
  PARLEY_ASSIGN_OR_RETURN(redis::RedisReply pending,
                          redis_->Command({"XPENDING", stream_, kGroup, "IDLE", min_idle, "-", "+",
                                           absl::StrCat(options_.batch)}));
  int delivered = 0;
  for (const redis::RedisReply& p : pending.elements) {
    if (stop_.HasBeenNotified()) break;
    if (p.elements.size() < 4) continue;
    const std::string& id = p.elements[0].str;
    const int64_t idle_ms = p.elements[2].integer;
    const int64_t deliveries = p.elements[3].integer;
    const int64_t needed_ms = absl::ToInt64Milliseconds(Backoff(deliveries));
    if (idle_ms < needed_ms) continue;
    if (deliveries >= options_.max_deliveries) {
      PARLEY_RETURN_IF_ERROR(Ack({id}));
      ++dropped_;
      log::Error("webhook dropped after repeated failures",
                 {{"event_id", id}, {"deliveries", absl::StrCat(deliveries)}});
      continue;
    }
    // XCLAIM with min-idle: if another consumer claimed it meanwhile, we get nothing.
    PARLEY_ASSIGN_OR_RETURN(
        redis::RedisReply claimed,
        redis_->Command({"XCLAIM", stream_, kGroup, me, absl::StrCat(needed_ms), id}));
    if (claimed.elements.empty()) continue;
    const redis::RedisReply& entry = claimed.elements[0];
    if (entry.is_nil() || entry.elements.size() < 2 || entry.elements[1].is_nil()) {
      PARLEY_RETURN_IF_ERROR(Ack({id}));  // trimmed from the stream: nothing left to send
      continue;
    }
    if (Handle(calls::ParseEventEntry(entry), sender, &delivered) == Outcome::kDone) {
      PARLEY_RETURN_IF_ERROR(Ack({id}));
    }
  }
  return delivered;
}

absl::StatusOr<int> WebhookRelay::RunOnce(int consumer, WebhookSender& sender) {
  const std::string me = absl::StrCat(options_.consumer, "-", consumer);
  PARLEY_ASSIGN_OR_RETURN(int delivered, RetryDue(me, sender));
  const int64_t block_ms = std::max<int64_t>(absl::ToInt64Milliseconds(options_.block), 1);
  PARLEY_ASSIGN_OR_RETURN(
      redis::RedisReply read,
      redis_->Command({"XREADGROUP", "GROUP", kGroup, me, "COUNT", absl::StrCat(options_.batch),
                       "BLOCK", absl::StrCat(block_ms), "STREAMS", stream_, ">"},
                      options_.block + absl::Seconds(2)));
  std::vector<std::string> done;
  for (const redis::RedisReply& stream : read.elements) {
    if (stream.elements.size() < 2) continue;
    for (const redis::RedisReply& entry : stream.elements[1].elements) {
      calls::CallEvent event = calls::ParseEventEntry(entry);
      if (Handle(event, sender, &delivered) == Outcome::kDone) done.push_back(event.event_id);
    }
  }
  PARLEY_RETURN_IF_ERROR(Ack(done));
  return delivered;
}

}  // namespace parley::dispatcher
