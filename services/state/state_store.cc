#include "services/state/state_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/json/merge_patch.h"
#include "common/log/log.h"
#include "common/log/redact.h"
#include "common/pg/migrate.h"
#include "common/status/status.h"
#include "services/state/store_rows.h"

namespace parley::state {

// Generated from migrations/*.sql by parley_embed_migrations().
const std::vector<pg::Migration>& Migrations();

namespace {

using internal::ConversationFromRow;
using internal::kConversationColumns;

constexpr char kCallAttempts[] = "conversation.call_attempts";
constexpr char kConversationOf[] = "conversation.conversation_of";
constexpr char kLockActive[] = "conversation.lock_active";
constexpr char kDeactivate[] = "conversation.deactivate";
constexpr char kAutoClose[] = "conversation.auto_close";
constexpr char kLatest[] = "conversation.latest";
constexpr char kInsertCall[] = "conversation.insert_call";
constexpr char kInsertConversation[] = "conversation.insert_conversation";
constexpr char kLockByCall[] = "conversation.lock_by_call";
constexpr char kSetState[] = "conversation.set_state";
constexpr char kTouch[] = "conversation.touch";
constexpr char kCallKnown[] = "conversation.call_known";
constexpr char kHeartbeat[] = "conversation.heartbeat";

// Concurrent starts for one (phone, agent) resolve in one extra round each: the loser's insert
// waits for the winner, then sees its row. A few rounds cover any realistic burst.
constexpr int kMaxStartRounds = 5;

std::string Quoted(std::string_view s) { return absl::StrCat("\"", AbslView(s), "\""); }

std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The state a new call starts from: the durable keys of the previous state, then the counters.
nlohmann::json StartingState(const nlohmann::json& previous, const StartCallParams& params,
                             int call_count) {
  nlohmann::json next = nlohmann::json::object();
  auto keep = [&](const std::string& key) {
    auto it = previous.find(key);
    if (it != previous.end()) next[key] = *it;
  };
  for (const std::string& key : DefaultDurableKeys()) keep(key);
  for (const std::string& key : params.durable_keys) keep(key);
  next["call_count"] = call_count;
  if (!params.lead_id.empty()) next["lead_id"] = params.lead_id;
  return next;
}

}  // namespace

const std::vector<std::string>& DefaultDurableKeys() {
  static const auto* kKeys = new std::vector<std::string>{
      "lead_id", "qualified", "topics_discussed", "call_count", "summary"};
  return *kKeys;
}

StateStore::StateStore(pg::PgPool* pg, redis::RedisPool* redis, StoreOptions options)
    : pg_(pg),
      live_(redis, {.key_prefix = options.key_prefix, .ttl = options.live_ttl}),
      options_(std::move(options)) {
  pg_->Prepare(kCallAttempts,
               "SELECT attempt, phone, agent, ended_at IS NOT NULL FROM conversation.calls "
               "WHERE call_id = $1 ORDER BY attempt DESC");
  pg_->Prepare(kConversationOf, absl::StrCat("SELECT ", kConversationColumns,
                                             " FROM conversation.conversation_state "
                                             "WHERE call_id = $1 AND attempt = $2"));
  // Stale: heartbeat older than $3 microseconds, or its attempt already ended.
  pg_->Prepare(kLockActive,
               "SELECT s.id, s.call_id, s.attempt, "
               "s.heartbeat_at < now() - $3::bigint * interval '1 microsecond' OR EXISTS ("
               "SELECT 1 FROM conversation.calls c WHERE c.call_id = s.call_id "
               "AND c.attempt = s.attempt AND c.ended_at IS NOT NULL) "
               "FROM conversation.conversation_state s "
               "WHERE s.phone = $1 AND s.agent = $2 AND s.active FOR UPDATE OF s");
  pg_->Prepare(kDeactivate,
               "UPDATE conversation.conversation_state SET active = false, updated_at = now() "
               "WHERE id = $1");
  pg_->Prepare(kAutoClose,
               "UPDATE conversation.calls c SET status = 'failed', ended_reason = 'worker_lost', "
               "ended_at = GREATEST(s.heartbeat_at, c.started_at), auto_closed = true, "
               "ring_ms = (extract(epoch FROM GREATEST(s.heartbeat_at, c.started_at) - "
               "c.started_at) * 1000)::bigint "
               "FROM conversation.conversation_state s WHERE s.id = $1 "
               "AND c.call_id = s.call_id AND c.attempt = s.attempt AND c.ended_at IS NULL");
  pg_->Prepare(kLatest,
               absl::StrCat("SELECT ", kConversationColumns,
                            " FROM conversation.conversation_state WHERE phone = $1 AND agent = $2 "
                            "ORDER BY id DESC LIMIT 1"));
  pg_->Prepare(kInsertCall,
               "INSERT INTO conversation.calls (call_id, attempt, phone, phone_masked, agent, "
               "campaign, direction, worker_id, lead_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
               "$9) ON CONFLICT DO NOTHING RETURNING 1");
  pg_->Prepare(kInsertConversation,
               absl::StrCat("INSERT INTO conversation.conversation_state (phone, phone_masked, "
                            "agent, call_id, attempt, state, call_count, first_call_at) VALUES ("
                            "$1, $2, $3, $4, $5, $6::jsonb, $7, COALESCE('epoch'::timestamptz + "
                            "$8::bigint * interval '1 microsecond', now())) "
                            "ON CONFLICT DO NOTHING RETURNING ",
                            kConversationColumns));
  pg_->Prepare(kLockByCall, absl::StrCat("SELECT id, ", kConversationColumns,
                                         " FROM conversation.conversation_state "
                                         "WHERE call_id = $1 AND active FOR UPDATE"));
  pg_->Prepare(kSetState,
               absl::StrCat("UPDATE conversation.conversation_state SET state = $2::jsonb, "
                            "version = version + 1, heartbeat_at = now(), updated_at = now() "
                            "WHERE id = $1 RETURNING ",
                            kConversationColumns));
  pg_->Prepare(kTouch,
               "UPDATE conversation.conversation_state SET heartbeat_at = now() WHERE id = $1");
  pg_->Prepare(kCallKnown, "SELECT 1 FROM conversation.calls WHERE call_id = $1 LIMIT 1");
  pg_->Prepare(kHeartbeat, absl::StrCat("UPDATE conversation.conversation_state "
                                        "SET heartbeat_at = now() WHERE call_id = $1 "
                                        "AND attempt = $2 AND active RETURNING ",
                                        kConversationColumns));
  internal::PrepareHistoryStatements(*pg_);
}

absl::Status StateStore::Migrate() { return pg::Migrate(*pg_, "conversation", Migrations()); }

absl::StatusOr<StartedCall> StateStore::StartCall(const StartCallParams& p) {
  const std::string masked = log::MaskPhone(p.phone);
  const std::int64_t stale_micros = absl::ToInt64Microseconds(options_.stale_after);
  // One round. When a concurrent start wins a unique-index race the round must roll back what it
  // wrote (so it fails, with `lost_race` set) and the next round sees the winner's row.
  bool lost_race = false;
  const absl::Status kLostRace = absl::AbortedError("lost a race with a concurrent StartCall");
  auto round = [&](pqxx::work& tx) -> absl::StatusOr<StartedCall> {
    lost_race = false;
    // 1. What this call id already did.
    for (const pqxx::row& row : tx.exec_prepared(kCallAttempts, p.call_id)) {
      int attempt = row[0].as<int>();
      if (row[1].as<std::string>() != p.phone || row[2].as<std::string>() != p.agent) {
        return absl::FailedPreconditionError(absl::StrCat(
            "call_id: call ", Quoted(p.call_id), " was started with another phone or agent"));
      }
      if (attempt > p.attempt) {
        return absl::FailedPreconditionError(
            absl::StrCat("attempt: call ", Quoted(p.call_id), " is already on attempt ", attempt));
      }
      if (attempt < p.attempt) continue;
      if (row[3].as<bool>()) {
        return absl::FailedPreconditionError(absl::StrCat("call_id: call ", Quoted(p.call_id),
                                                          " attempt ", attempt, " already ended"));
      }
      pqxx::result mine = tx.exec_prepared(kConversationOf, p.call_id, p.attempt);
      if (mine.empty() || !mine[0][7].as<bool>()) {
        return absl::FailedPreconditionError(
            absl::StrCat("call_id: call ", Quoted(p.call_id), " attempt ", attempt,
                         " lost its conversation to another call"));
      }
      return StartedCall{.conversation = ConversationFromRow(mine[0]), .repeated = true};
    }

    // 2. The active conversation of (phone, agent), if any: refuse a live one, take a stale one.
    std::string took_over;
    pqxx::result active = tx.exec_prepared(kLockActive, p.phone, p.agent, stale_micros);
    if (!active.empty()) {
      const pqxx::row& holder = active[0];
      std::string holder_call = holder[1].as<std::string>();
      // An earlier attempt of the same call is over once the next one starts.
      bool stale = holder[3].as<bool>() || holder_call == p.call_id;
      if (!stale) {
        return absl::FailedPreconditionError(absl::StrCat(
            "phone: a conversation with agent ", Quoted(p.agent), " is in progress in call ",
            Quoted(holder_call), " (attempt ", holder[2].as<int>(), ")"));
      }
      std::int64_t id = holder[0].as<std::int64_t>();
      // Locks conversation then calls, the reverse of CompleteCall: if the holder completes at
      // this very moment Postgres reports a deadlock and PgPool re-runs the loser.
      tx.exec_prepared(kAutoClose, id);
      tx.exec_prepared(kDeactivate, id);
      took_over = holder_call;
    }

    // 3. The new conversation, built from the newest one.
    nlohmann::json previous = nlohmann::json::object();
    int call_count = 1;
    std::optional<std::int64_t> first_call_micros;
    pqxx::result latest = tx.exec_prepared(kLatest, p.phone, p.agent);
    if (!latest.empty()) {
      Conversation last = ConversationFromRow(latest[0]);
      previous = std::move(last.state);
      call_count = last.call_count + (last.call_id == p.call_id ? 0 : 1);
      first_call_micros = absl::ToUnixMicros(last.first_call_time);
    }
    nlohmann::json state = StartingState(previous, p, call_count);
    std::string lead_id = p.lead_id;
    if (auto it = state.find("lead_id"); lead_id.empty() && it != state.end() && it->is_string()) {
      lead_id = it->get<std::string>();
    }
    if (tx.exec_prepared(kInsertCall, p.call_id, p.attempt, p.phone, masked, p.agent, p.campaign,
                         internal::DirectionName(p.direction), p.worker_id, lead_id)
            .empty()) {
      lost_race = true;
      return kLostRace;
    }
    pqxx::result inserted =
        tx.exec_prepared(kInsertConversation, p.phone, masked, p.agent, p.call_id, p.attempt,
                         Dump(state), call_count, first_call_micros);
    if (inserted.empty()) {
      lost_race = true;
      return kLostRace;
    }
    return StartedCall{.conversation = ConversationFromRow(inserted[0]),
                       .took_over_call_id = took_over};
  };

  for (int i = 0; i < kMaxStartRounds; ++i) {
    absl::StatusOr<StartedCall> started = pg_->Transact(round);
    if (!started.ok() && lost_race) continue;
    if (!started.ok()) return started.status();
    StartedCall result = *std::move(started);
    MirrorLive(result.conversation, /*open=*/!result.repeated);
    if (!result.took_over_call_id.empty()) {
      log::Info("took over a stale conversation",
                {{"call_id", p.call_id}, {"stale_call_id", result.took_over_call_id}});
    }
    return result;
  }
  return absl::AbortedError(
      absl::StrCat("concurrent starts for the same phone and agent kept "
                   "colliding; retry call ",
                   Quoted(p.call_id)));
}

absl::StatusOr<Conversation> StateStore::UpdateState(std::string_view call_id, int attempt,
                                                     const nlohmann::json& patch) {
  if (!patch.is_object()) return InvalidField("patch", "must be a JSON object");
  if (std::size_t size = Dump(patch).size(); size > kMaxPatchBytes) {
    return InvalidField("patch", absl::StrCat(size, " bytes serialised, larger than 64 KiB"));
  }
  std::string id(call_id);
  auto update = [&](pqxx::work& tx) -> absl::StatusOr<Conversation> {
    pqxx::result locked = tx.exec_prepared(kLockByCall, id);
    if (locked.empty() || (attempt != 0 && locked[0][5].as<int>() != attempt)) {
      if (tx.exec_prepared(kCallKnown, id).empty()) return internal::UnknownCall(id);
      std::string which = attempt == 0 ? "" : absl::StrCat(" attempt ", attempt);
      return absl::FailedPreconditionError(
          absl::StrCat("call_id: call ", Quoted(id), which,
                       " holds no active conversation (it ended or was taken over)"));
    }
    std::int64_t row_id = locked[0][0].as<std::int64_t>();
    Conversation current = ConversationFromRow(locked[0], 1);
    nlohmann::json next = json::MergePatch(current.state, patch);
    if (next == current.state) {
      tx.exec_prepared(kTouch, row_id);
      return current;
    }
    std::string text = Dump(next);
    if (text.size() > kMaxStateBytes) {
      return InvalidField("patch", absl::StrCat("the state would be ", text.size(),
                                                " bytes serialised, larger than 1 MiB"));
    }
    return ConversationFromRow(tx.exec_prepared1(kSetState, row_id, text));
  };
  PARLEY_ASSIGN_OR_RETURN(Conversation updated, pg_->Transact(update));
  MirrorLive(updated, /*open=*/false);
  return updated;
}

absl::StatusOr<Conversation> StateStore::GetState(std::string_view phone, std::string_view agent) {
  std::string p(phone), a(agent);
  return pg_->Transact([&](pqxx::work& tx) -> absl::StatusOr<Conversation> {
    pqxx::result latest = tx.exec_prepared(kLatest, p, a);
    if (latest.empty()) {
      return absl::NotFoundError(
          absl::StrCat("no conversation of ", log::MaskPhone(p), " with agent ", Quoted(a)));
    }
    return ConversationFromRow(latest[0]);
  });
}

absl::Status StateStore::Heartbeat(std::string_view call_id, int attempt,
                                   std::string_view current_node) {
  std::string id(call_id);
  PARLEY_ASSIGN_OR_RETURN(
      Conversation c, pg_->Transact([&](pqxx::work& tx) -> absl::StatusOr<Conversation> {
        pqxx::result row = tx.exec_prepared(kHeartbeat, id, attempt);
        if (row.empty()) {
          return absl::NotFoundError(absl::StrCat("call ", Quoted(id), " attempt ", attempt,
                                                  " is unknown or holds no active conversation"));
        }
        return ConversationFromRow(row[0]);
      }));
  std::optional<std::string> node;
  if (!current_node.empty()) node = std::string(current_node);
  MirrorLive(c, /*open=*/false, std::move(node));
  return absl::OkStatus();
}

void StateStore::MirrorLive(const Conversation& c, bool open, std::optional<std::string> node) {
  LiveUpdate update{.call_id = c.call_id,
                    .attempt = c.attempt,
                    .agent = c.agent,
                    .version = c.version,
                    .current_node = node ? std::move(node) : internal::CurrentNode(c.state)};
  absl::Status status = open ? live_.Open(update) : live_.Write(update);
  if (!status.ok()) {
    log::Warn("live conversation state not written to Redis",
              {{"call_id", c.call_id}, {"error", status.ToString()}});
  }
}

}  // namespace parley::state
