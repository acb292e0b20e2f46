// WebhookRelay against a real config-api (in process, scratch Postgres: campaigns and the webhook
// credential), the shared Redis, and a tiny HTTP receiver on loopback.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "services/dispatcher/testing/dispatcher_env.h"
#include "services/dispatcher/webhook_relay.h"

namespace parley::dispatcher {
namespace {

using testing::ConfigApiEnv;
using testing::DispatcherEnv;

constexpr char kSecret[] = "s3cret-hook-key-0123";

// Accepts HTTP/1.1 POSTs, records them, answers with queued status codes (then 200).
class Receiver {
 public:
  struct Request {
    std::string path;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
  };

  Receiver() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    listen(fd_, 16);
    thread_ = std::thread([this] { Serve(); });
  }
  ~Receiver() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }

  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_, "/hook"); }
  void AnswerNext(int code) {
    absl::MutexLock lock(&mu_);
    codes_.push_back(code);
  }
  void AlwaysAnswer(int code) {
    absl::MutexLock lock(&mu_);
    default_code_ = code;
  }
  // Waits until at least `n` requests arrived (or 10 s); returns all so far.
  std::vector<Request> WaitFor(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&] { return requests_.size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
    return requests_;
  }
  std::vector<Request> requests() {
    absl::MutexLock lock(&mu_);
    return requests_;
  }

 private:
  void Serve() {
    while (true) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string data;
      char buf[4096];
      size_t header_end = std::string::npos;
      size_t content_length = 0;
      while (true) {
        ssize_t n = read(c, buf, sizeof(buf));
        if (n <= 0) break;
        data.append(buf, n);
        if (header_end == std::string::npos &&
            (header_end = data.find("\r\n\r\n")) != std::string::npos) {
          for (absl::string_view line : absl::StrSplit(data.substr(0, header_end), "\r\n")) {
            if (absl::StartsWithIgnoreCase(line, "content-length:")) {
              (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(15)), &content_length);
            }
          }
        }
        if (header_end != std::string::npos && data.size() >= header_end + 4 + content_length)
          break;
      }
      Request r;
      std::vector<std::string> lines = absl::StrSplit(data.substr(0, header_end), "\r\n");
      if (!lines.empty()) {
        std::vector<std::string> first = absl::StrSplit(lines[0], ' ');
        if (first.size() > 1) r.path = first[1];
      }
      for (size_t i = 1; i < lines.size(); ++i) {
        size_t colon = lines[i].find(':');
        if (colon == std::string::npos) continue;
        r.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
            std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
      }
      r.body = data.substr(header_end + 4);
      int code;
      {
        absl::MutexLock lock(&mu_);
        requests_.push_back(r);
        code = default_code_;
        if (!codes_.empty()) {
          code = codes_.front();
          codes_.pop_front();
        }
      }
      std::string answer =
          absl::StrCat("HTTP/1.1 ", code, " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      (void)write(c, answer.data(), answer.size());
      close(c);
    }
  }

  int fd_;
  int port_ = 0;
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<Request> requests_ ABSL_GUARDED_BY(mu_);
  std::deque<int> codes_ ABSL_GUARDED_BY(mu_);
  int default_code_ ABSL_GUARDED_BY(mu_) = 200;
};

class WebhookTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    receiver_ = new Receiver();
    config_ = new ConfigApiEnv();
    config_->MakeAgent("pay");
    config_->Create(parley::v1::RESOURCE_KIND_CREDENTIAL, "hook-key",
                    absl::StrCat(R"({"provider": "webhook", "secret": ")", kSecret, R"("})"));
    config_->MakeCampaign("hooked", absl::StrCat(R"({"agent": "pay", "webhook": {"url": ")",
                                                 receiver_->url(), R"(", "secret": "hook-key"}})"));
    config_->MakeCampaign("reports",
                          absl::StrCat(R"({"agent": "pay", "webhook": {"url": ")", receiver_->url(),
                                       R"(", "secret": "hook-key",
                                                  "events": ["report"]}})"));
    config_->MakeCampaign("quiet", R"({"agent": "pay"})");
  }
  static void TearDownTestSuite() {
    delete config_;
    delete receiver_;
  }

  void SetUp() override {
    env_ = std::make_unique<DispatcherEnv>(config_->channel());
    relay_ = std::make_unique<WebhookRelay>(
        &env_->redis(), &env_->store(), &env_->config(),
        WebhookRelayOptions{.consumer = "test",
                            .threads = 1,
                            .block = absl::Milliseconds(100),
                            .max_deliveries = 3,
                            .initial_backoff = absl::Milliseconds(100),
                            .max_backoff = absl::Milliseconds(400)});
    ASSERT_TRUE(relay_->EnsureGroup().ok());
    base_ = receiver_->requests().size();
  }
  void TearDown() override {
    relay_.reset();
    env_.reset();
    receiver_->AlwaysAnswer(200);
  }

  std::string CreateCall(const std::string& campaign) {
    parley::v1::CreateCallRequest r;
    r.set_to("+14155552671");
    r.set_campaign(campaign);
    parley::v1::Call call;
    grpc::Status s = env_->stub().CreateCall(env_->Ctx().get(), r, &call);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return call.call_id();
  }

  // Requests that arrived during this test, waiting for `n` of them.
  std::vector<Receiver::Request> Got(size_t n) {
    std::vector<Receiver::Request> all = receiver_->WaitFor(base_ + n);
    return std::vector<Receiver::Request>(all.begin() + base_, all.end());
  }

  static Receiver* receiver_;
  static ConfigApiEnv* config_;
  std::unique_ptr<DispatcherEnv> env_;
  std::unique_ptr<WebhookRelay> relay_;
  size_t base_ = 0;
};

Receiver* WebhookTest::receiver_;
ConfigApiEnv* WebhookTest::config_;

TEST(HmacSha256Hex, KnownVector) {
  // RFC 4231 test case 2.
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_F(WebhookTest, StatusEventIsPostedSigned) {
  CreateCall("quiet");  // no webhook: nothing is sent
  std::string id = CreateCall("hooked");
  relay_->Start();
  std::vector<Receiver::Request> got = Got(1);
  relay_->Stop();
  ASSERT_EQ(got.size(), 1u);
  const Receiver::Request& r = got[0];
  EXPECT_EQ(r.path, "/hook");
  EXPECT_EQ(r.headers.at("content-type"), "application/json");
  EXPECT_EQ(r.headers.at("x-parley-signature"), "sha256=" + HmacSha256Hex(kSecret, r.body));
  nlohmann::json body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["type"], "status");
  EXPECT_EQ(body["call_id"], id);
  EXPECT_EQ(body["campaign"], "hooked");
  EXPECT_EQ(body["status"], "queued");
  EXPECT_EQ(body["attempt"], 1);
  EXPECT_EQ(r.headers.at("x-parley-event-id"), body["event_id"]);
  EXPECT_EQ(relay_->delivered(), 1);
}

TEST_F(WebhookTest, FailedDeliveryIsRetriedWithTheSameEventId) {
  receiver_->AnswerNext(500);
  CreateCall("hooked");
  relay_->Start();
  std::vector<Receiver::Request> got = Got(2);
  absl::SleepFor(absl::Milliseconds(300));  // no third delivery after the success
  relay_->Stop();
  got = Got(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].body, got[1].body);
  EXPECT_EQ(got[0].headers.at("x-parley-event-id"), got[1].headers.at("x-parley-event-id"));
  EXPECT_EQ(relay_->delivered(), 1);
  EXPECT_EQ(relay_->dropped(), 0);
}

TEST_F(WebhookTest, GivesUpAfterMaxDeliveries) {
  receiver_->AlwaysAnswer(503);
  CreateCall("hooked");
  relay_->Start();
  Got(3);
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (relay_->dropped() == 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
  relay_->Stop();
  EXPECT_EQ(relay_->dropped(), 1);
  EXPECT_EQ(receiver_->requests().size() - base_, 3u);
}

TEST_F(WebhookTest, EndOfCallReportAfterTheFinalEvent) {
  std::string id = CreateCall("reports");  // report only: no status events
  auto jobs = env_->store().ReadJobs("w1", 1, 1000);
  ASSERT_TRUE(jobs.ok() && jobs->size() == 1);
  int64_t now = absl::ToUnixMillis(absl::Now());
  auto fence = env_->store().Claim((*jobs)[0], "w1", 30'000, now);
  ASSERT_TRUE(fence.ok());
  for (auto s : {parley::v1::CALL_STATUS_DIALING, parley::v1::CALL_STATUS_RINGING,
                 parley::v1::CALL_STATUS_IN_PROGRESS}) {
    ASSERT_TRUE(env_->store().Transition(*fence, s, now).ok());
  }
  ASSERT_TRUE(
      env_->store()
          .FinishAttempt(*fence, parley::v1::CALL_STATUS_COMPLETED, "callee_hangup", {}, now)
          .ok());
  relay_->Start();
  std::vector<Receiver::Request> got = Got(1);
  absl::SleepFor(absl::Milliseconds(300));
  relay_->Stop();
  got = Got(1);
  ASSERT_EQ(got.size(), 1u);
  nlohmann::json body = nlohmann::json::parse(got[0].body);
  EXPECT_EQ(body["type"], "report");
  EXPECT_EQ(body["call"]["call_id"], id);
  EXPECT_EQ(body["call"]["status"], "completed");
  EXPECT_EQ(body["call"]["ended_reason"], "callee_hangup");
  EXPECT_EQ(body["call"]["to_masked"], "+*******2671");
  EXPECT_EQ(got[0].headers.at("x-parley-event-id"), std::string(body["event_id"]) + "/report");
}

}  // namespace
}  // namespace parley::dispatcher
