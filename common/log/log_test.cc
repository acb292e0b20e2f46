#include "common/log/log.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <sstream>

namespace parley::log {
namespace {

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    Init({.service = "test-svc",
          .level = Level::kInfo,
          .sink_logger = std::make_shared<spdlog::logger>("capture", sink)});
  }
  void TearDown() override { Init({}); }

  std::vector<nlohmann::json> Lines() {
    std::vector<nlohmann::json> lines;
    std::istringstream in(out_.str());
    for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
    return lines;
  }

  std::ostringstream out_;
};

TEST_F(LogTest, WritesOneJsonObjectPerLine) {
  Info("call queued", {{"attempt", "1"}});
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["level"], "info");
  EXPECT_EQ(lines[0]["service"], "test-svc");
  EXPECT_EQ(lines[0]["msg"], "call queued");
  EXPECT_EQ(lines[0]["attempt"], "1");
  EXPECT_TRUE(lines[0].contains("ts"));
}

TEST_F(LogTest, RedactsMessageAndFields) {
  Warn("dialing +14155552671 with Bearer tok_abcdef",
       {{"to", "+14155552671"}, {"token", "tok_abcdef"}});
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["msg"], "dialing +*******2671 with Bearer [REDACTED]");
  EXPECT_EQ(lines[0]["to"], "+*******2671");
  EXPECT_EQ(lines[0]["token"], "[REDACTED]");
  EXPECT_EQ(out_.str().find("5552671"), std::string::npos);
  EXPECT_EQ(out_.str().find("tok_abcdef"), std::string::npos);
}

TEST_F(LogTest, ScopeFieldsApplyToThisThreadAndNest) {
  {
    Scope call({{"call_id", "c_1"}});
    {
      Scope worker({{"worker_id", "w_7"}});
      Info("inner");
    }
    Info("outer");
  }
  Info("none");
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["call_id"], "c_1");
  EXPECT_EQ(lines[0]["worker_id"], "w_7");
  EXPECT_EQ(lines[1]["call_id"], "c_1");
  EXPECT_FALSE(lines[1].contains("worker_id"));
  EXPECT_FALSE(lines[2].contains("call_id"));
}

TEST_F(LogTest, LevelFiltersLowerLines) {
  Debug("hidden");
  Error("shown");
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["level"], "error");
  EXPECT_EQ(ParseLevel("WARN"), Level::kWarn);
  EXPECT_EQ(ParseLevel("bogus"), Level::kInfo);
}

TEST_F(LogTest, MessageWithBracesAndQuotesStaysValidJson) {
  Info(R"(payload {"a":1} "quoted" {})");
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["msg"], R"(payload {"a":1} "quoted" {})");
}

}  // namespace
}  // namespace parley::log
