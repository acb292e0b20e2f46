// WebhookRelay: delivers call events to the campaigns' signed webhooks (config.proto Webhook),
// retried with exponential backoff.
//
// It reads the global event stream (`{prefix}events`) through the consumer group `webhooks`, so
// with several dispatcher replicas every event is handled by exactly one of them, and an event
// whose delivery failed stays pending in the group — surviving a restart — until it is delivered
// or dropped. For each event of a campaign with a webhook:
//   - "status" (when the webhook asks for it): every status event, as
//       {"type":"status","event_id","call_id","campaign","status":"no_answer","ended_reason",
//        "attempt","worker_id","time":RFC 3339,"detail":{…}};
//   - "report": after a call's final event, the end-of-call report
//       {"type":"report","event_id","call":{call_id,status,ended_reason,agent,campaign,attempt,
//        max_attempts,to_masked,lead_id,create_time,end_time,context}}
//     (summary and transcript live in the state service and are not included).
// POSTed with `X-Parley-Signature: sha256=<hex HMAC-SHA256(secret, body)>` and `X-Parley-Event-Id`
// (the event id; "<id>/report" for a report). A delivery that fails (no answer, non-2xx) is
// retried after initial_backoff × 2^(n-1), up to max_backoff, at most `max_deliveries` times, then
// dropped with an error log. Deliveries are at least once and may arrive out of order: receivers
// dedupe by X-Parley-Event-Id and order by `time`/`event_id`.
//
//   WebhookRelay relay(watch_redis.get(), &store, &config, {.consumer = "dispatcher-host-42"});
//   PARLEY_RETURN_IF_ERROR(relay.EnsureGroup());
//   relay.Start();   ...   relay.Stop();
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/calls/call_store.h"
#include "common/redis/redis_pool.h"
#include "services/dispatcher/config_client.h"
#include "services/dispatcher/webhook_sender.h"

namespace parley::dispatcher {

struct WebhookRelayOptions {
  // Consumer name prefix, unique per process (e.g. host and pid); threads add "-<n>".
  std::string consumer = "dispatcher";
  int threads = 2;
  // Longest wait for new events in one read (also bounds how long Stop() takes).
  absl::Duration block = absl::Seconds(1);
  absl::Duration http_timeout = absl::Seconds(5);
  int max_deliveries = 8;
  absl::Duration initial_backoff = absl::Seconds(2);
  absl::Duration max_backoff = absl::Minutes(10);
  // Entries read (or retried) per round.
  int batch = 50;
};

class WebhookRelay final {
 public:
  // `redis` should be a pool where a connection may block for `block` (not CreateCall's).
  // Every pointer must outlive the relay.
  WebhookRelay(redis::RedisPool* redis, calls::CallStore* store, ConfigClient* config,
               WebhookRelayOptions options = {});
  ~WebhookRelay();
  WebhookRelay(const WebhookRelay&) = delete;
  WebhookRelay& operator=(const WebhookRelay&) = delete;

  // Creates the group `webhooks` on the events stream, starting at the stream's end (events from
  // before the first relay are not sent). Idempotent. UNAVAILABLE when Redis is down.
  absl::Status EnsureGroup();

  // Starts the consumer threads (they create the group if needed); Stop() ends them. Idempotent.
  void Start();
  void Stop();

  // One round as consumer number `consumer`: retries that are due, then new events (blocking up
  // to options.block). Returns how many deliveries succeeded. UNAVAILABLE when Redis is down.
  absl::StatusOr<int> RunOnce(int consumer, WebhookSender& sender);

  int64_t delivered() const { return delivered_.load(); }
  int64_t dropped() const { return dropped_.load(); }

 private:
  enum class Outcome { kDone, kRetry };
  Outcome Handle(const calls::CallEvent& event, WebhookSender& sender, int* delivered);
  absl::StatusOr<int> RetryDue(const std::string& me, WebhookSender& sender);
  absl::Status Ack(const std::vector<std::string>& ids);
  absl::Duration Backoff(int64_t deliveries) const;
  void Loop(int consumer);

  redis::RedisPool* redis_;
  calls::CallStore* store_;
  ConfigClient* config_;
  WebhookRelayOptions options_;
  std::string stream_;
  std::atomic<int64_t> delivered_{0};
  std::atomic<int64_t> dropped_{0};
  absl::Notification stop_;
  std::vector<std::thread> threads_;
};

// The JSON bodies the relay posts (exposed for tests).
std::string StatusWebhookBody(const calls::CallEvent& event);
std::string ReportWebhookBody(const calls::CallEvent& final_event, const calls::CallRecord& call);

}  // namespace parley::dispatcher
