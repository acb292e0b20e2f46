// parleyctl as a subprocess against a real parley-config-api (its own scratch database).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/grpc/client.h"
#include "common/pg/testing/scratch_database.h"
#include "common/testing/subprocess.h"

namespace parley::cli {
namespace {

using testing::BinaryPath;
using testing::Subprocess;

struct Result {
  int code;
  std::string output;  // stdout and stderr together
};

class ParleyctlTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = new pg::testing::ScratchDatabase();
    address_ = new std::string(absl::StrCat("127.0.0.1:", testing::FreePort()));
    config_ = new Subprocess({BinaryPath("services/config-api/parley-config-api"),
                              "--listen=" + *address_, "--metrics_listen=off"},
                             {{"PARLEY_PG_URL", db_->url()}, {"PARLEY_API_TOKENS", ""}},
                             ::testing::TempDir() + "/parleyctl-config-api.log");
    auto channel = grpcx::MakeChannel({.address = *address_});
    absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (!grpcx::ProbeServing(channel).ok() && absl::Now() < deadline)
      absl::SleepFor(absl::Milliseconds(50));
    ASSERT_TRUE(grpcx::ProbeServing(channel).ok()) << "config-api did not become SERVING";

    dispatcher_address_ = new std::string(absl::StrCat("127.0.0.1:", testing::FreePort()));
    dispatcher_ = new Subprocess(
        {BinaryPath("services/dispatcher/parley-dispatcher"), "--listen=" + *dispatcher_address_,
         "--metrics_listen=off", "--webhooks=false"},
        {{"PARLEY_REDIS_URL", testing::RequireEnv("PARLEY_REDIS_URL")},
         {"PARLEY_CONFIG_ADDR", *address_},
         {"PARLEY_API_TOKENS", ""}},
        ::testing::TempDir() + "/parleyctl-dispatcher.log");
    auto dispatcher = grpcx::MakeChannel({.address = *dispatcher_address_});
    deadline = absl::Now() + absl::Seconds(30);
    while (!grpcx::ProbeServing(dispatcher).ok() && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    ASSERT_TRUE(grpcx::ProbeServing(dispatcher).ok()) << "dispatcher did not become SERVING";
  }
  static void TearDownTestSuite() {
    delete dispatcher_;
    delete dispatcher_address_;
    delete config_;
    delete db_;
    delete address_;
  }

  Result Run(std::vector<std::string> args) {
    std::string log =
        absl::StrCat(::testing::TempDir(), "/parleyctl-", getpid(), "-", runs_++, ".out");
    std::remove(log.c_str());
    std::vector<std::string> argv = {BinaryPath("cli/parleyctl/parleyctl"), "--config-addr",
                                     *address_, "--dispatcher-addr", *dispatcher_address_};
    argv.insert(argv.end(), args.begin(), args.end());
    Subprocess p(argv, {}, log);
    int code = p.WaitExit(absl::Seconds(30)).value_or(-1);
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    return {code, text.str()};
  }

  std::string WriteFile(const std::string& name, const std::string& content) {
    std::string path = ::testing::TempDir() + "/" + name;
    std::ofstream(path) << content;
    return path;
  }

  static pg::testing::ScratchDatabase* db_;
  static std::string* address_;
  static Subprocess* config_;
  static inline std::string* dispatcher_address_ = nullptr;
  static inline Subprocess* dispatcher_ = nullptr;
  static inline int runs_ = 0;  // across tests: each run gets its own output file
};

pg::testing::ScratchDatabase* ParleyctlTest::db_;
std::string* ParleyctlTest::address_;
Subprocess* ParleyctlTest::config_;

TEST_F(ParleyctlTest, ApplyExamplesThenGetListResolveAndDelete) {
  Result applied = Run({"apply", "-f", std::string(PARLEY_SOURCE_DIR) + "/deploy/examples"});
  ASSERT_EQ(applied.code, 0) << applied.output;
  EXPECT_NE(applied.output.find("agent/payment-reminder applied"), std::string::npos)
      << applied.output;
  // Applying again is an update, not an error.
  EXPECT_EQ(Run({"apply", "-f", std::string(PARLEY_SOURCE_DIR) + "/deploy/examples"}).code, 0);

  Result list = Run({"get", "agents"});
  ASSERT_EQ(list.code, 0) << list.output;
  EXPECT_NE(list.output.find("lead-qualifier"), std::string::npos);
  EXPECT_NE(list.output.find("payment-reminder"), std::string::npos);

  Result one = Run({"get", "agent", "payment-reminder", "-o", "json"});
  ASSERT_EQ(one.code, 0) << one.output;
  nlohmann::json j = nlohmann::json::parse(one.output);
  EXPECT_EQ(j["name"], "payment-reminder");
  EXPECT_EQ(j["spec"]["trunk"], "sim-phone");

  Result yaml = Run({"get", "trunk", "sim-phone", "-o", "yaml"});
  ASSERT_EQ(yaml.code, 0);
  EXPECT_NE(yaml.output.find("address: 127.0.0.1:50060"), std::string::npos) << yaml.output;

  Result resolved = Run({"config", "resolve", "--agent", "payment-reminder", "--campaign",
                         "payment-reminders-us", "-o", "json"});
  ASSERT_EQ(resolved.code, 0) << resolved.output;
  EXPECT_EQ(nlohmann::json::parse(resolved.output)["trunk"]["name"], "sim-phone");

  Result refused = Run({"delete", "trunk", "sim-phone"});
  EXPECT_EQ(refused.code, 1);
  EXPECT_NE(refused.output.find("references trunk/sim-phone"), std::string::npos) << refused.output;
}

TEST_F(ParleyctlTest, UnknownKindAndCommandFailWithOneLine) {
  Result kind = Run({"get", "widgets"});
  EXPECT_EQ(kind.code, 2);
  EXPECT_NE(kind.output.find("parleyctl: unknown kind \"widgets\""), std::string::npos)
      << kind.output;
  EXPECT_EQ(std::count(kind.output.begin(), kind.output.end(), '\n'), 1);
  Result command = Run({"frobnicate"});
  EXPECT_EQ(command.code, 2);
  EXPECT_NE(command.output.find("unknown command"), std::string::npos);
}

TEST_F(ParleyctlTest, MalformedYamlNamesItsLine) {
  std::string path = WriteFile("bad.yaml",
                               "kind: template\n"
                               "name: broken\n"
                               "spec:\n"
                               "  llm: {provider: scripted\n"
                               "  tts: x\n");
  Result r = Run({"apply", "-f", path});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("bad.yaml:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("malformed YAML"), std::string::npos) << r.output;

  std::string unknown = WriteFile("unknown-kind.yaml", "kind: tempalte\nname: x\nspec: {}\n");
  r = Run({"apply", "-f", unknown});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("unknown-kind.yaml:1"), std::string::npos) << r.output;

  std::string invalid =
      WriteFile("invalid.yaml", "kind: template\nname: hot\nspec:\n  llm: {temperature: 7}\n");
  r = Run({"apply", "-f", invalid});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("template.llm.temperature"), std::string::npos) << r.output;
}

TEST_F(ParleyctlTest, DncAddCheckRemove) {
  EXPECT_EQ(Run({"dnc", "add", "+14155550123", "--reason", "opt_out"}).code, 0);
  Result check = Run({"dnc", "check", "+14155550123"});
  EXPECT_EQ(check.code, 0);
  EXPECT_NE(check.output.find("is blocked (opt_out)"), std::string::npos) << check.output;
  EXPECT_EQ(Run({"dnc", "remove", "+14155550123"}).code, 0);
  check = Run({"dnc", "check", "+14155550123"});
  EXPECT_NE(check.output.find("may be called"), std::string::npos) << check.output;
  Result bad = Run({"dnc", "add", "555"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.output.find("number:"), std::string::npos) << bad.output;
}

TEST_F(ParleyctlTest, CallCreateGetListCancelWatch) {
  ASSERT_EQ(Run({"apply", "-f", std::string(PARLEY_SOURCE_DIR) + "/deploy/examples"}).code, 0);
  // No campaign: no calling window, so the call is queued at once (no worker runs here).
  Result created = Run({"call", "create", "--to", "(415) 555-2671", "--agent", "lead-qualifier",
                        "--context", R"({"customer_name": "Ada"})", "-o", "json"});
  ASSERT_EQ(created.code, 0) << created.output;
  nlohmann::json call = nlohmann::json::parse(created.output);
  std::string id = call["call_id"];
  EXPECT_EQ(call["status"], "CALL_STATUS_QUEUED");
  EXPECT_EQ(call["to"], "+14155552671");

  Result got = Run({"call", "get", id});
  ASSERT_EQ(got.code, 0) << got.output;
  EXPECT_NE(got.output.find("queued"), std::string::npos) << got.output;
  Result list = Run({"call", "list", "--agent", "lead-qualifier"});
  EXPECT_NE(list.output.find(id), std::string::npos) << list.output;

  Result canceled = Run({"call", "cancel", id});
  ASSERT_EQ(canceled.code, 0) << canceled.output;
  EXPECT_NE(canceled.output.find("canceled"), std::string::npos);
  // watch replays the call's events and, as it did not complete, exits non-zero saying why.
  Result watched = Run({"call", "watch", id});
  EXPECT_EQ(watched.code, 1);
  EXPECT_NE(watched.output.find("queued"), std::string::npos) << watched.output;
  EXPECT_NE(watched.output.find("ended canceled"), std::string::npos) << watched.output;

  Result bad = Run({"call", "create", "--to", "555", "--agent", "lead-qualifier"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.output.find("to: not a valid number"), std::string::npos) << bad.output;
  Result missing = Run({"call", "create", "--agent", "lead-qualifier"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.output.find("--to and --agent are required"), std::string::npos);
}

TEST_F(ParleyctlTest, BatchQueuesGoodRowsAndReportsTheBadOne) {
  ASSERT_EQ(Run({"apply", "-f", std::string(PARLEY_SOURCE_DIR) + "/deploy/examples"}).code, 0);
  std::string csv = WriteFile("calls.csv",
                              "number,lead_name,slot_1\n"
                              "(415) 555-2671,Ada,\"tomorrow, at ten\"\n"
                              "555,Bob,\n"
                              "+14155552672,Grace,\n");
  std::string results = csv + ".results.csv";
  std::remove(results.c_str());
  // --batch-size 2: two CreateCalls requests, so the chunking is exercised too.
  Result r = Run({"call", "batch", "--agent", "lead-qualifier", "--csv", csv, "--batch-size", "2"});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("2 of 3 rows accepted; results in " + results), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("parleyctl: 1 of 3 rows failed; see " + results), std::string::npos)
      << r.output;

  std::ifstream in(results);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 4u) << r.output;
  EXPECT_EQ(lines[0], "row,line,number,call_id,status,error_code,error");
  EXPECT_NE(lines[1].find("1,2,(415) 555-2671,"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find(",queued,,"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("2,3,555,,,INVALID_ARGUMENT,"), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find("to: not a valid number"), std::string::npos) << lines[2];
  EXPECT_NE(lines[3].find(",queued,,"), std::string::npos) << lines[3];

  // The accepted rows are real calls, with the row's columns as their context.
  std::string call_id = lines[1].substr(std::string("1,2,(415) 555-2671,").size());
  call_id = call_id.substr(0, call_id.find(','));
  Result got = Run({"call", "get", call_id, "-o", "json"});
  ASSERT_EQ(got.code, 0) << got.output;
  nlohmann::json call = nlohmann::json::parse(got.output);
  EXPECT_EQ(call["to"], "+14155552671");
  EXPECT_EQ(call["context"]["lead_name"], "Ada");
  EXPECT_EQ(call["context"]["slot_1"], "tomorrow, at ten");

  // Every row accepted (repeated idempotency keys return the same calls): exit 0.
  std::string keyed = WriteFile("keyed.csv",
                                "to,idempotency_key,lead_name\n"
                                "+14155552673,batch-e2e-1,Alan\n"
                                "+14155552674,batch-e2e-2,Edsger\n");
  std::string out = ::testing::TempDir() + "/keyed-out.csv";
  Result ok = Run({"call", "batch", "--agent", "lead-qualifier", "--csv", keyed, "--results", out});
  EXPECT_EQ(ok.code, 0) << ok.output;
  EXPECT_NE(ok.output.find("2 of 2 rows accepted"), std::string::npos) << ok.output;
  Result again = Run({"call", "batch", "--agent", "lead-qualifier", "--csv", keyed, "--results",
                      out, "-o", "json"});
  EXPECT_EQ(again.code, 0) << again.output;
  EXPECT_EQ(nlohmann::json::parse(again.output)["accepted"], 2);
}

TEST_F(ParleyctlTest, BatchRefusesAMalformedCsvNamingTheLine) {
  std::string quote = WriteFile("quote.csv",
                                "number,lead_name\n"
                                "+14155552675,Ada\n"
                                "+14155552676,\"Grace\n"
                                "+14155552677,Alan\n");
  Result r = Run({"call", "batch", "--agent", "lead-qualifier", "--csv", quote});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.output, "parleyctl: " + quote + ":3: unterminated quoted field\n");

  std::string columns = WriteFile("columns.csv",
                                  "number,lead_name\n"
                                  "+14155552675,Ada\n"
                                  "+14155552676,Grace,extra\n");
  r = Run({"call", "batch", "--agent", "lead-qualifier", "--csv", columns});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.output, "parleyctl: " + columns + ":3: 3 fields, but the header has 2\n");

  std::string no_number = WriteFile("nonumber.csv", "phone,lead_name\n+14155552675,Ada\n");
  r = Run({"call", "batch", "--agent", "lead-qualifier", "--csv", no_number});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("no \"number\" (or \"to\") column"), std::string::npos) << r.output;
  r = Run({"call", "batch", "--csv", no_number});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("--agent (or --campaign) are required"), std::string::npos);
}

TEST_F(ParleyctlTest, HelpAndProbe) {
  Result help = Run({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.output.find("apply -f FILE|DIR"), std::string::npos);
  Result cmd_help = Run({"get", "--help"});
  EXPECT_EQ(cmd_help.code, 0);
  EXPECT_NE(cmd_help.output.find("Usage: parleyctl get"), std::string::npos);
  Result batch_help = Run({"call", "batch", "--help"});
  EXPECT_EQ(batch_help.code, 0);
  EXPECT_NE(batch_help.output.find("Usage: parleyctl call batch --agent A"), std::string::npos)
      << batch_help.output;
  Result test_help = Run({"test", "--help"});
  EXPECT_EQ(test_help.code, 0);
  EXPECT_NE(test_help.output.find("Usage: parleyctl test FILE|DIR"), std::string::npos)
      << test_help.output;
  EXPECT_NE(help.output.find("call batch"), std::string::npos);
  EXPECT_EQ(Run({"probe", *address_}).code, 0);
  EXPECT_NE(Run({"probe", absl::StrCat("127.0.0.1:", testing::FreePort())}).code, 0);
}

}  // namespace
}  // namespace parley::cli
