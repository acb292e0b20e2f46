// parleyctl call batch: one call per CSV row through the dispatcher's CreateCalls, with a
// progress bar, a per-row result file, and an exit code that says whether every row was accepted.
//
// The CSV's header names the columns: `number` (or `to`) is the number to call, an optional
// `idempotency_key` column is used as such, and every other column is a context variable (a
// string; an empty cell leaves the agent's default). The result file has one line per row:
// row,line,number,call_id,status,error_code,error — `row` counts data rows from 1, `line` is
// where the row starts in the CSV.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <ostream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/parleyctl/cli.h"
#include "cli/parleyctl/csv.h"
#include "common/calls/call_store.h"
#include "common/status/status.h"
#include "parley/v1/dispatcher.grpc.pb.h"

namespace parley::cli {
namespace {

using parley::v1::CreateCallRequest;
using parley::v1::DispatcherService;

constexpr int kMaxRowsPerRequest = 10000;  // CreateCalls' limit

struct RowResult {
  std::string call_id;
  std::string status;      // queued, scheduled, … when accepted
  std::string error_code;  // INVALID_ARGUMENT, … when not
  std::string error;
};

// Where each column of the CSV goes.
struct Columns {
  int number = -1;
  int idempotency_key = -1;
  std::vector<std::pair<int, std::string>> context;  // column index, variable name
};

absl::StatusOr<Columns> MapColumns(const CsvTable& table, const std::string& path) {
  Columns c;
  for (size_t i = 0; i < table.header.size(); ++i) {
    const std::string& name = table.header[i];
    if (name == "number" || name == "to") {
      if (c.number >= 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ":1: header: both \"number\" and \"to\"; keep one"));
      }
      c.number = static_cast<int>(i);
    } else if (name == "idempotency_key") {
      c.idempotency_key = static_cast<int>(i);
    } else {
      c.context.emplace_back(static_cast<int>(i), name);
    }
  }
  if (c.number < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":1: header: no \"number\" (or \"to\") column"));
  }
  return c;
}

// Draws the bar on a terminal's stderr; prints nothing elsewhere.
class Progress final {
 public:
  Progress(std::ostream& err, size_t total)
      : err_(err), total_(total), tty_(&err == &std::cerr && isatty(STDERR_FILENO)) {}
  void Update(size_t done, size_t failed) {
    if (!tty_ || total_ == 0) return;
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(kWidth * done / total_);
    err_ << "\r[" << std::string(filled, '#') << std::string(kWidth - filled, '.') << "] " << done
         << "/" << total_ << " rows";
    if (failed > 0) err_ << ", " << failed << " failed";
    err_ << std::flush;
  }
  void Done() {
    if (tty_) err_ << "\n";
  }

 private:
  std::ostream& err_;
  size_t total_;
  bool tty_;
};

absl::Status Batch(Context& ctx) {
  const Args& a = ctx.args();
  const std::string path = a.Flag("csv");
  const std::string agent = a.Flag("agent");
  const std::string campaign = a.Flag("campaign");
  if (path.empty() || (agent.empty() && campaign.empty())) {
    return absl::InvalidArgumentError(
        "call batch: --csv FILE and --agent (or --campaign) are required");
  }
  int chunk = kMaxRowsPerRequest;
  if (a.Has("batch-size") && (!absl::SimpleAtoi(a.Flag("batch-size"), &chunk) || chunk < 1 ||
                              chunk > kMaxRowsPerRequest)) {
    return absl::InvalidArgumentError("--batch-size: want a number from 1 to 10000");
  }
  const std::string results_path = a.Flag("results", path + ".results.csv");

  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("--csv: cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  PARLEY_ASSIGN_OR_RETURN(CsvTable table, ParseCsv(text.str(), path));
  PARLEY_ASSIGN_OR_RETURN(Columns columns, MapColumns(table, path));
  if (table.rows.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no rows"));
  // Open the result file before placing any call: a batch whose results cannot be kept is not
  // worth starting.
  std::ofstream results(results_path, std::ios::trunc);
  if (!results) {
    return absl::InvalidArgumentError(absl::StrCat("--results: cannot write ", results_path));
  }

  std::vector<RowResult> outcome(table.rows.size());
  auto stub = DispatcherService::NewStub(ctx.Channel("dispatcher"));
  Progress progress(ctx.err(), table.rows.size());
  size_t done = 0, failed = 0;
  grpc::Status broken;  // the first request that failed as a whole; later rows are not sent
  for (size_t start = 0; start < table.rows.size(); start += chunk) {
    const size_t end = std::min(table.rows.size(), start + chunk);
    if (!broken.ok()) {
      for (size_t r = start; r < end; ++r) {
        outcome[r] = {.error_code = "NOT_SENT", .error = "not sent: an earlier request failed"};
      }
      failed += end - start;
      continue;
    }
    parley::v1::CreateCallsRequest req;
    for (size_t r = start; r < end; ++r) {
      const CsvRecord& row = table.rows[r];
      CreateCallRequest* call = req.add_calls();
      call->set_to(row.fields[columns.number]);
      call->set_agent(agent);
      call->set_campaign(campaign);
      call->set_from(a.Flag("from"));
      if (columns.idempotency_key >= 0)
        call->set_idempotency_key(row.fields[columns.idempotency_key]);
      auto& fields = *call->mutable_context()->mutable_fields();
      for (const auto& [index, name] : columns.context) {
        if (!row.fields[index].empty()) fields[name].set_string_value(row.fields[index]);
      }
    }
    parley::v1::CreateCallsResponse resp;
    grpc::Status s = stub->CreateCalls(ctx.Call("dispatcher", absl::Minutes(2)).get(), req, &resp);
    if (!s.ok()) {
      broken = s;
      // A request that timed out may still have been admitted: rows with an idempotency key can
      // be sent again safely, others may not.
      for (size_t r = start; r < end; ++r) {
        outcome[r] = {.error_code = std::string(
                          absl::StatusCodeToString(static_cast<absl::StatusCode>(s.error_code()))),
                      .error = absl::StrCat("request failed: ", s.error_message())};
      }
      failed += end - start;
      done = end;
      progress.Update(done, failed);
      continue;
    }
    for (const parley::v1::CreateCallResult& result : resp.results()) {
      const size_t r = start + result.index();
      if (result.index() < 0 || r >= end) continue;
      if (result.has_call()) {
        outcome[r].call_id = result.call().call_id();
        outcome[r].status = std::string(calls::StatusName(result.call().status()));
      } else {
        outcome[r].error_code = std::string(
            absl::StatusCodeToString(static_cast<absl::StatusCode>(result.error().code())));
        outcome[r].error = result.error().message();
      }
    }
    for (size_t r = start; r < end; ++r) {
      if (outcome[r].call_id.empty()) {
        ++failed;
        if (outcome[r].error_code.empty()) {
          outcome[r].error_code = "UNKNOWN";
          outcome[r].error = "the dispatcher returned no result for this row";
        }
      }
    }
    done = end;
    progress.Update(done, failed);
  }
  progress.Done();

  results << CsvLine({"row", "line", "number", "call_id", "status", "error_code", "error"}) << "\n";
  for (size_t r = 0; r < outcome.size(); ++r) {
    const RowResult& o = outcome[r];
    results << CsvLine({absl::StrCat(r + 1), absl::StrCat(table.rows[r].line),
                        table.rows[r].fields[columns.number], o.call_id, o.status, o.error_code,
                        o.error})
            << "\n";
  }
  results.close();
  if (!results)
    return absl::UnavailableError(absl::StrCat("--results: writing ", results_path, " failed"));

  const size_t total = outcome.size();
  ctx.PrintJson({{"rows", total},
                 {"accepted", total - failed},
                 {"failed", failed},
                 {"results", results_path}},
                [&] {
                  ctx.out() << total - failed << " of " << total << " rows accepted; results in "
                            << results_path << "\n";
                });
  if (!broken.ok() && failed == total) return RpcError(broken);
  if (failed > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(failed, " of ", total, " rows failed; see ", results_path));
  }
  return absl::OkStatus();
}

Registrar registrar({
    {{"call", "batch"},
     "call batch --agent A [--campaign C] --csv FILE [--results OUT.csv] [--from NUM] "
     "[--batch-size N]",
     "one call per CSV row (columns: number, idempotency_key, context variables); writes a "
     "result per row to OUT.csv (default FILE.results.csv); exits 0 only when every row was "
     "accepted",
     Batch},
});

}  // namespace
}  // namespace parley::cli
