// StateStore's call history and transcripts: CompleteCall, GetCall, ListCalls, AppendTurns,
// GetTranscript (the conversation half is in state_store.cc).
#include <cstdint>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/calls/call_store.h"
#include "common/log/log.h"
#include "common/status/status.h"
#include "services/state/state_store.h"
#include "services/state/store_rows.h"

namespace parley::state {
namespace {

using internal::CallFromRow;
using internal::kCallColumnCount;
using internal::kCallColumns;

constexpr char kLockCall[] = "conversation.lock_call";
constexpr char kFinishCall[] = "conversation.finish_call";
constexpr char kCloseConversation[] = "conversation.close_conversation";
constexpr char kGetCall[] = "conversation.get_call";
constexpr char kAttemptKnown[] = "conversation.attempt_known";
constexpr char kAnyAttemptKnown[] = "conversation.any_attempt_known";
constexpr char kInsertTurns[] = "conversation.insert_turns";
constexpr char kTranscript[] = "conversation.transcript";
constexpr char kListByPhone[] = "conversation.list_by_phone";
constexpr char kListByAgent[] = "conversation.list_by_agent";
constexpr char kListByCampaign[] = "conversation.list_by_campaign";

// Keyset page of calls newest first: the column to filter on is the only difference.
std::string ListSql(std::string_view where) {
  return absl::StrCat(
      "SELECT ", kCallColumns, ", (extract(epoch FROM started_at) * 1000000)::bigint ",
      "FROM conversation.calls WHERE ", AbslView(where),
      " AND ($2::bigint IS NULL OR (started_at, call_id, attempt) < ('epoch'::timestamptz + "
      "$2::bigint * interval '1 microsecond', $3::text, $4::integer)) "
      "ORDER BY started_at DESC, call_id DESC, attempt DESC LIMIT $5");
}

// FNV-1a: ties a page token to the filter it was issued for, without carrying the filter (a phone
// number) in the token.
std::uint64_t FilterHash(const CallQuery& q) {
  std::uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  };
  mix(std::to_string(static_cast<int>(q.by)));
  mix(":");
  mix(q.value);
  return h;
}

struct Cursor {
  std::int64_t started_micros = 0;
  std::string call_id;
  int attempt = 0;
};

std::string EncodeToken(const CallQuery& q, const Cursor& c) {
  return absl::WebSafeBase64Escape(
      absl::StrCat(FilterHash(q), "\n", c.started_micros, "\n", c.attempt, "\n", c.call_id));
}

absl::StatusOr<Cursor> DecodeToken(const CallQuery& q) {
  std::string raw;
  std::vector<std::string> parts;
  if (absl::WebSafeBase64Unescape(q.page_token, &raw)) {
    parts = absl::StrSplit(raw, absl::MaxSplits('\n', 3));
  }
  Cursor c;
  std::uint64_t hash = 0;
  if (parts.size() != 4 || !absl::SimpleAtoi(parts[0], &hash) ||
      !absl::SimpleAtoi(parts[1], &c.started_micros) || !absl::SimpleAtoi(parts[2], &c.attempt)) {
    return InvalidField("page.page_token", "not a token from a previous page");
  }
  if (hash != FilterHash(q)) {
    return InvalidField("page.page_token", "issued for another filter");
  }
  c.call_id = parts[3];
  return c;
}

std::optional<std::int64_t> Micros(const std::optional<absl::Time>& t) {
  if (!t) return std::nullopt;
  return absl::ToUnixMicros(*t);
}

std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

void internal::PrepareHistoryStatements(pg::PgPool& pg) {
  pg.Prepare(kLockCall, absl::StrCat("SELECT ", kCallColumns,
                                     ", ended_at IS NOT NULL, "
                                     "auto_closed FROM conversation.calls "
                                     "WHERE call_id = $1 AND attempt = $2 FOR UPDATE"));
  // Durations in ms: ring from start to answer (or to the end if never answered), talk from
  // answer to end; never negative even when the worker's clock disagrees with ours.
  pg.Prepare(
      kFinishCall,
      absl::StrCat("UPDATE conversation.calls c SET status = $3, ended_reason = $4, summary = $5, "
                   "metrics = $6::jsonb, answered_at = t.answered, ended_at = t.ended, "
                   "auto_closed = false, "
                   "ring_ms = GREATEST(0, (extract(epoch FROM COALESCE(t.answered, t.ended) - "
                   "c.started_at) * 1000)::bigint), "
                   "talk_ms = CASE WHEN t.answered IS NULL THEN 0 ELSE GREATEST(0, "
                   "(extract(epoch FROM t.ended - t.answered) * 1000)::bigint) END "
                   "FROM (SELECT 'epoch'::timestamptz + $7::bigint * interval '1 microsecond' "
                   "AS answered, COALESCE('epoch'::timestamptz + $8::bigint * "
                   "interval '1 microsecond', now()) AS ended) t "
                   "WHERE c.call_id = $1 AND c.attempt = $2 RETURNING ",
                   kCallColumns));
  pg.Prepare(kCloseConversation,
             "UPDATE conversation.conversation_state SET active = false, updated_at = now(), "
             "state = CASE WHEN $3::text = '' THEN state "
             "ELSE jsonb_set(state, '{summary}', to_jsonb($3::text)) END, "
             "version = version + CASE WHEN $3::text = '' THEN 0 ELSE 1 END "
             "WHERE call_id = $1 AND attempt = $2 AND active");
  pg.Prepare(kGetCall, absl::StrCat("SELECT ", kCallColumns,
                                    " FROM conversation.calls WHERE call_id = $1 AND "
                                    "($2::integer IS NULL OR attempt = $2) "
                                    "ORDER BY attempt DESC LIMIT 1"));
  pg.Prepare(kAttemptKnown, "SELECT 1 FROM conversation.calls WHERE call_id = $1 AND attempt = $2");
  pg.Prepare(kAnyAttemptKnown, "SELECT 1 FROM conversation.calls WHERE call_id = $1 LIMIT 1");
  pg.Prepare(kInsertTurns,
             "INSERT INTO conversation.turns (call_id, attempt, seq, role, text, node, start_ms, "
             "end_ms, interrupted, heard_text, tool) "
             "SELECT $1, $2, t.seq, t.role, t.text, t.node, t.start_ms, t.end_ms, t.interrupted, "
             "t.heard_text, t.tool FROM jsonb_to_recordset($3::jsonb) AS t(seq integer, role "
             "text, text text, node text, start_ms bigint, end_ms bigint, interrupted boolean, "
             "heard_text text, tool text) ON CONFLICT DO NOTHING RETURNING seq");
  pg.Prepare(kTranscript,
             "SELECT attempt, seq, role, text, node, start_ms, end_ms, interrupted, heard_text, "
             "tool FROM conversation.turns WHERE call_id = $1 AND "
             "($2::integer IS NULL OR attempt = $2) ORDER BY attempt, seq");
  pg.Prepare(kListByPhone, ListSql("phone = $1"));
  pg.Prepare(kListByAgent, ListSql("agent = $1"));
  pg.Prepare(kListByCampaign, ListSql("campaign = $1 AND campaign <> ''"));
}

absl::StatusOr<parley::v1::CallRecord> StateStore::CompleteCall(const CompleteCallParams& p) {
  nlohmann::json metrics = nlohmann::json::object();
  for (const auto& [key, value] : p.metrics) metrics[key] = value;
  bool changed = false;
  auto complete = [&](pqxx::work& tx) -> absl::StatusOr<parley::v1::CallRecord> {
    changed = false;
    pqxx::result locked = tx.exec_prepared(kLockCall, p.call_id, p.attempt);
    if (locked.empty()) return internal::UnknownCall(p.call_id, p.attempt);
    bool ended = locked[0][kCallColumnCount].as<bool>();
    bool auto_closed = locked[0][kCallColumnCount + 1].as<bool>();
    if (ended && !auto_closed) return CallFromRow(locked[0]);
    parley::v1::CallRecord record = CallFromRow(tx.exec_prepared1(
        kFinishCall, p.call_id, p.attempt, std::string(calls::StatusName(p.outcome)),
        p.ended_reason, p.summary, Dump(metrics), Micros(p.answer_time), Micros(p.end_time)));
    tx.exec_prepared(kCloseConversation, p.call_id, p.attempt, p.summary);
    changed = true;
    return record;
  };
  PARLEY_ASSIGN_OR_RETURN(parley::v1::CallRecord record, pg_->Transact(complete));
  if (changed) {
    if (absl::Status s = live_.Remove(p.call_id, p.attempt); !s.ok()) {
      log::Warn("live conversation state not removed from Redis",
                {{"call_id", p.call_id}, {"error", s.ToString()}});
    }
  }
  return record;
}

absl::StatusOr<parley::v1::CallRecord> StateStore::GetCall(std::string_view call_id,
                                                           std::optional<int> attempt) {
  std::string id(call_id);
  return pg_->Transact([&](pqxx::work& tx) -> absl::StatusOr<parley::v1::CallRecord> {
    pqxx::result row = tx.exec_prepared(kGetCall, id, attempt);
    if (row.empty()) {
      std::string which = attempt ? absl::StrCat(" attempt ", *attempt) : "";
      return absl::NotFoundError(absl::StrCat("call \"", id, "\"", which, " not found"));
    }
    return CallFromRow(row[0]);
  });
}

absl::StatusOr<CallPage> StateStore::ListCalls(const CallQuery& q) {
  std::optional<Cursor> cursor;
  if (!q.page_token.empty()) {
    PARLEY_ASSIGN_OR_RETURN(cursor, DecodeToken(q));
  }
  const char* statement = q.by == CallFilter::kPhone   ? kListByPhone
                          : q.by == CallFilter::kAgent ? kListByAgent
                                                       : kListByCampaign;
  std::optional<std::int64_t> after_micros;
  std::optional<std::string> after_call;
  std::optional<int> after_attempt;
  if (cursor) {
    after_micros = cursor->started_micros;
    after_call = cursor->call_id;
    after_attempt = cursor->attempt;
  }
  return pg_->Transact([&](pqxx::work& tx) -> CallPage {
    pqxx::result rows = tx.exec_prepared(statement, q.value, after_micros, after_call,
                                         after_attempt, q.page_size + 1);
    CallPage page;
    for (int i = 0; i < static_cast<int>(rows.size()) && i < q.page_size; ++i) {
      page.calls.push_back(CallFromRow(rows[i]));
    }
    if (static_cast<int>(rows.size()) > q.page_size) {
      const pqxx::row& last = rows[q.page_size - 1];
      page.next_page_token =
          EncodeToken(q, {.started_micros = last[kCallColumnCount].as<std::int64_t>(),
                          .call_id = last[0].as<std::string>(),
                          .attempt = last[1].as<int>()});
    }
    return page;
  });
}

absl::StatusOr<AppendResult> StateStore::AppendTurns(std::string_view call_id, int attempt,
                                                     const std::vector<parley::v1::Turn>& turns) {
  nlohmann::json rows = nlohmann::json::array();
  for (const parley::v1::Turn& t : turns) {
    rows.push_back({{"seq", t.seq()},
                    {"role", internal::RoleName(t.role())},
                    {"text", t.text()},
                    {"node", t.node()},
                    {"start_ms", t.start_ms()},
                    {"end_ms", t.end_ms()},
                    {"interrupted", t.interrupted()},
                    {"heard_text", t.heard_text()},
                    {"tool", t.tool()}});
  }
  std::string id(call_id);
  std::string text = Dump(rows);
  return pg_->Transact([&](pqxx::work& tx) -> absl::StatusOr<AppendResult> {
    if (tx.exec_prepared(kAttemptKnown, id, attempt).empty()) {
      return internal::UnknownCall(id, attempt);
    }
    int appended = static_cast<int>(tx.exec_prepared(kInsertTurns, id, attempt, text).size());
    return AppendResult{.appended = appended,
                        .duplicates = static_cast<int>(turns.size()) - appended};
  });
}

absl::StatusOr<std::vector<parley::v1::Turn>> StateStore::GetTranscript(
    std::string_view call_id, std::optional<int> attempt) {
  std::string id(call_id);
  return pg_->Transact([&](pqxx::work& tx) -> absl::StatusOr<std::vector<parley::v1::Turn>> {
    bool known = attempt ? !tx.exec_prepared(kAttemptKnown, id, *attempt).empty()
                         : !tx.exec_prepared(kAnyAttemptKnown, id).empty();
    if (!known) {
      std::string which = attempt ? absl::StrCat(" attempt ", *attempt) : "";
      return absl::NotFoundError(absl::StrCat("call \"", id, "\"", which, " not found"));
    }
    std::vector<parley::v1::Turn> turns;
    for (const pqxx::row& row : tx.exec_prepared(kTranscript, id, attempt)) {
      parley::v1::Turn& t = turns.emplace_back();
      t.set_attempt(row[0].as<int>());
      t.set_seq(row[1].as<int>());
      t.set_role(internal::ParseRole(row[2].as<std::string>()));
      t.set_text(row[3].as<std::string>());
      t.set_node(row[4].as<std::string>());
      t.set_start_ms(row[5].as<std::int64_t>());
      t.set_end_ms(row[6].as<std::int64_t>());
      t.set_interrupted(row[7].as<bool>());
      t.set_heard_text(row[8].as<std::string>());
      t.set_tool(row[9].as<std::string>());
    }
    return turns;
  });
}

}  // namespace parley::state
