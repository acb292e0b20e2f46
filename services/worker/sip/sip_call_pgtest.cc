// Calls through a SIP trunk end to end: the worker in process (real Redis, config-api and state
// over a scratch database) dials sipp (Debian's sip-tester, a SIP peer not written here) playing
// the callee as a UAS. Each scenario's outcome is read back from the call record: answered calls
// with RTP audio both ways (sipp echoes what it hears), busy, no answer, declined, invalid number,
// trunk errors with their SIP code, the ring timeout's CANCEL, and digest authentication.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/audio/tone.h"
#include "services/worker/sip/sip_telephony.h"
#include "services/worker/sip/testing/sipp.h"
#include "services/worker/testing/worker_env.h"

namespace parley::worker {
namespace {

using sip::testing::SippPeer;
using testing::CallsEnv;
using testing::InProcessWorker;
using testing::NewNumber;
using testing::ServicesEnv;

int CountInvitesReceived(const std::string& log) {
  int n = 0;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (absl::StartsWith(line, "INVITE sip:")) ++n;
  }
  return n;
}

class SipCallTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    services_ = new ServicesEnv();
    services_->Apply(parley::v1::RESOURCE_KIND_TEMPLATE, "sip-tmpl",
                     R"({"limits": {"ring_timeout_s": 5}})");
    services_->Apply(parley::v1::RESOURCE_KIND_GRAPH, "sip-graph", R"({
        "start_node": "greet", "terminal_nodes": ["bye"],
        "nodes": [{"name": "greet", "say": ["Hello"], "transitions": [{"to": "bye"}]},
                  {"name": "bye", "say": ["Goodbye"]}]})");
    services_->Apply(parley::v1::RESOURCE_KIND_CREDENTIAL, "sip-pass",
                     R"({"provider": "sip", "secret": "s3cret"})");
    auto telephony = sip::SipTelephony::Create(
        {.sip_address = "127.0.0.1", .sip_port = 0, .rtp_address = "127.0.0.1"});
    ASSERT_TRUE(telephony.ok()) << telephony.status();
    sip_ = telephony->release();
  }
  static void TearDownTestSuite() {
    delete sip_;
    delete services_;
  }

  // A call through `scenario` (hold.xml, hold_update.xml): the callee holds it with an offer of
  // `offered` direction, expects `answered`, and resumes; the call must complete normally.
  void ExpectHoldAndResumeKeepTheCall(const std::string& scenario, const std::string& offered,
                                      const std::string& answered);

  // An agent whose trunk points at `peer`; returns the agent's name.
  std::string AgentFor(const SippPeer& peer, const std::string& codecs = R"(["pcmu"])",
                       const std::string& auth = "", const std::string& transport = "udp") {
    const std::string name = absl::StrCat("sip-agent-", ++agents_);
    services_->Apply(
        parley::v1::RESOURCE_KIND_TRUNK, name + "-trunk",
        absl::StrCat(R"({"kind": "sip", "sip": {"host": "127.0.0.1", "port": )", peer.port(),
                     R"(, "transport": ")", transport, R"(", "codecs": )", codecs,
                     R"(, "rtp_port_min": 10000, "rtp_port_max": 20000)", auth, "}}"));
    services_->Apply(parley::v1::RESOURCE_KIND_AGENT, name,
                     absl::StrCat(R"({"template": "sip-tmpl", "graph": "sip-graph", "trunk": ")",
                                  name, R"(-trunk", "from": "+14155559999"})"));
    return name;
  }

  // A SIP telephony of the test's own that accepts 10 s session timers (the shared one keeps the
  // RFC 4028 minimum of 90 s), for the session-refresh tests.
  static std::unique_ptr<sip::SipTelephony> ShortSessionTimerTelephony() {
    auto telephony = sip::SipTelephony::Create({.sip_address = "127.0.0.1",
                                                .sip_port = 0,
                                                .rtp_address = "127.0.0.1",
                                                .session_min_se_s = 10});
    EXPECT_TRUE(telephony.ok()) << telephony.status();
    return telephony.ok() ? *std::move(telephony) : nullptr;
  }

  static std::string LastDetail(CallsEnv& calls, const std::string& id, const std::string& key) {
    std::vector<calls::CallEvent> events = calls.Events(id);
    for (auto e = events.rbegin(); e != events.rend(); ++e) {
      auto found = e->detail.find(key);
      if (found != e->detail.end()) return found->second;
    }
    return "";
  }

  // A call through `peer` whose agent, after a prompt of `prompt_ms`, transfers it to
  // +14155550111 (the `transfer` tool's path: PipelineHost::TransferCall); returns its id.
  std::string CreateTransferringCall(CallsEnv& calls, const SippPeer& peer, int prompt_ms = 600) {
    return calls.CreateCall(
        {.agent = AgentFor(peer),
         .to = NewNumber(),
         .context_json = absl::StrCat(R"({"test_prompt_ms": )", prompt_ms,
                                      R"(, "test_transfer_to": "+14155550111"})")});
  }

  // True once the shared stack tracks no call (a released handle), within a few seconds.
  static bool NothingTracked() {
    for (int i = 0; i < 50; ++i) {
      if (sip_->TrackedCalls() == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  static ServicesEnv* services_;
  static sip::SipTelephony* sip_;
  int agents_ = 0;
};

ServicesEnv* SipCallTest::services_ = nullptr;
sip::SipTelephony* SipCallTest::sip_ = nullptr;

class SipAnswerTest : public SipCallTest,
                      public ::testing::WithParamInterface<std::pair<std::string, std::string>> {};

// The callee answers in PCMU or PCMA and echoes our RTP: the call completes with every lifecycle
// event, and the worker hears its own 440 Hz prompt back through G.711 at 16 kHz.
TEST_P(SipAnswerTest, AnsweredCallCarriesAudioAndCompletes) {
  const auto& [codec, pt] = GetParam();
  SippPeer peer = SippPeer::Start("answer.xml", {{"codec_pt", pt}});
  CallsEnv calls(services_->redis());
  InProcessWorker worker(*services_, calls, {.sip = sip_});
  const std::string agent = AgentFor(peer, absl::StrCat(R"([")", codec, R"("])"));
  std::string id = calls.CreateCall(
      {.agent = agent, .to = NewNumber(), .context_json = R"({"test_prompt_ms": 2000})"});
  calls::CallRecord done = calls.WaitTerminal(id, absl::Seconds(30));
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_COMPLETED);
  EXPECT_EQ(done.ended_reason, "agent_hangup");
  EXPECT_EQ(calls.StatusTrail(id),
            (std::vector<std::string>{"queued", "assigned", "dialing", "ringing", "in_progress",
                                      "completed"}));
  EXPECT_EQ(peer.Wait(absl::Seconds(10)), 0) << peer.Errors();
  std::vector<int16_t> heard = worker.pipelines().Heard(id);
  ASSERT_GE(heard.size(), 16000u) << "the echo of our prompt did not come back";
  // The strongest second of what came back is our 440 Hz tone.
  size_t best = 0;
  double best_rms = 0;
  for (size_t at = 0; at + 16000 <= heard.size(); at += 1600) {
    const double rms = audio::Rms(std::span(heard).subspan(at, 16000));
    if (rms > best_rms) {
      best_rms = rms;
      best = at;
    }
  }
  std::span<const int16_t> loud = std::span(heard).subspan(best, 16000);
  EXPECT_GT(best_rms, 1000);
  EXPECT_NEAR(audio::ZeroCrossingFrequency(loud, 16000), 440, 10);
}

INSTANTIATE_TEST_SUITE_P(G711, SipAnswerTest,
                         ::testing::Values(std::pair<std::string, std::string>{"pcmu", "0"},
                                           std::pair<std::string, std::string>{"pcma", "8"}));

struct RejectCase {
  int code;
  std::string reason_phrase;
  parley::v1::CallStatus status;
  std::string ended_reason;
};

class SipRejectTest : public SipCallTest, public ::testing::WithParamInterface<RejectCase> {};

// A final response ends the call with the mapped outcome and its SIP code, and no second INVITE
// is ever sent for it.
TEST_P(SipRejectTest, FinalResponseMapsToOutcome) {
  const RejectCase& c = GetParam();
  SippPeer peer =
      SippPeer::Start("reject.xml", {{"code", absl::StrCat(c.code)}, {"reason", c.reason_phrase}});
  CallsEnv calls(services_->redis());
  InProcessWorker worker(*services_, calls, {.sip = sip_});
  std::string id = calls.CreateCall({.agent = AgentFor(peer), .to = NewNumber()});
  calls::CallRecord done = calls.WaitTerminal(id, absl::Seconds(30));
  EXPECT_EQ(done.status, c.status) << c.code;
  EXPECT_EQ(done.ended_reason, c.ended_reason) << c.code;
  EXPECT_EQ(LastDetail(calls, id, "sip_code"), absl::StrCat(c.code));
  EXPECT_EQ(peer.Wait(absl::Seconds(10)), 0) << peer.Errors();
  EXPECT_EQ(CountInvitesReceived(peer.Messages()), 1) << peer.Errors();
}

INSTANTIATE_TEST_SUITE_P(
    Responses, SipRejectTest,
    ::testing::Values(
        RejectCase{486, "Busy Here", parley::v1::CALL_STATUS_BUSY, "busy"},
        RejectCase{600, "Busy Everywhere", parley::v1::CALL_STATUS_BUSY, "busy"},
        RejectCase{480, "Temporarily Unavailable", parley::v1::CALL_STATUS_NO_ANSWER, "no_answer"},
        RejectCase{603, "Decline", parley::v1::CALL_STATUS_DECLINED, "declined"},
        RejectCase{404, "Not Found", parley::v1::CALL_STATUS_FAILED, "invalid_number"},
        RejectCase{484, "Address Incomplete", parley::v1::CALL_STATUS_FAILED, "invalid_number"},
        RejectCase{503, "Service Unavailable", parley::v1::CALL_STATUS_FAILED, "trunk_error"}),
    [](const ::testing::TestParamInfo<RejectCase>& info) {
      return absl::StrCat("Sip", info.param.code);
    });

// Nobody answers: at the ring timeout the worker sends CANCEL (sipp's scenario requires it) and
// the call ends no_answer/ring_timeout.
TEST_F(SipCallTest, RingTimeoutCancelsAndEndsNoAnswer) {
  SippPeer peer = SippPeer::Start("ring.xml");
  CallsEnv calls(services_->redis());
  InProcessWorker worker(*services_, calls, {.sip = sip_});
  std::string id = calls.CreateCall({.agent = AgentFor(peer), .to = NewNumber()});
  calls::CallRecord done = calls.WaitTerminal(id, absl::Seconds(30));
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_NO_ANSWER);
  EXPECT_EQ(done.ended_reason, "ring_timeout");
  EXPECT_EQ(calls.StatusTrail(id),
            (std::vector<std::string>{"queued", "assigned", "dialing", "ringing", "no_answer"}));
  EXPECT_EQ(peer.Wait(absl::Seconds(10)), 0) << peer.Errors();
  EXPECT_EQ(CountInvitesReceived(peer.Messages()), 1);
}

// A 401 challenge is answered once with the trunk's digest credentials (the same call, so sipp
// sees two INVITEs in one dialog) and sipp checks them before answering.
TEST_F(SipCallTest, DigestChallengeIsAnsweredWithTheTrunkCredential) {
  SippPeer peer =
      SippPeer::Start("auth.xml", {{"user", "parley"}, {"password", "s3cret"}, {"codec_pt", "0"}});
  CallsEnv calls(services_->redis());
  InProcessWorker worker(*services_, calls, {.sip = sip_});
  const std::string agent = AgentFor(
      peer, R"(["pcmu"])", R"(, "auth_username": "parley", "auth_credential": "sip-pass")");
  std::string id = calls.CreateCall(
      {.agent = agent, .to = NewNumber(), .context_json = R"({"test_prompt_ms": 600})"});
  calls::CallRecord done = calls.WaitTerminal(id, absl::Seconds(30));
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_COMPLETED) << done.ended_reason;
  EXPECT_EQ(peer.Wait(absl::Seconds(10)), 0) << peer.Errors();
  EXPECT_EQ(CountInvitesReceived(peer.Messages()), 2);
}

// Wrong credentials: sipp refuses with 403 and the call fails as a trunk error, once.
TEST_F(SipCallTest, RejectedCredentialsFailTheCall) {
  SippPeer peer =
      SippPeer::Start("auth.xml", {{"user", "parley"}, {"password", "other"}, {"codec_pt", "0"}});
  CallsEnv calls(services_->redis());
  InProcessWorker worker(*services_, calls, {.sip = sip_});
  const std::string agent = AgentFor(
      peer, R"(["pcmu"])", R"(, "auth_username": "parley", "auth_credential": "sip-pass")");
  std::string id = calls.CreateCall({.agent = agent, .to = NewNumber()});
  calls::CallRecord done = calls.WaitTerminal(id, absl::Seconds(30));
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_FAILED);
  EXPECT_EQ(done.ended_reason, "trunk_error");
  EXPECT_EQ(LastDetail(calls, id, "sip_code"), "403");
  EXPECT_EQ(peer.Wait(absl::Seconds(10)), 0) << peer.Errors();
  EXPECT_EQ(CountInvitesReceived(peer.Messages()), 2);
}

// A 503 with Retry-After: nua would send the INVITE again after the delay — a second call.
// The call ends failed/trunk_error with the code instead, and the peer sees one INVITE.
TEST_F(SipCallTest, RetryAfterIsNotFollowedBySecondInvite) {
  SippPeer peer = SippPeer::Start("reject_retry_after.xml");
  CallsEnv calls(services_->redis());
  InProcessWorker worker(*services_, calls, {.sip = sip_});
  std::string id = calls.CreateCall({.agent = AgentFor(peer), .to = NewNumber()});
  calls::CallRecord done = calls.WaitTerminal(id, absl::Seconds(30));
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_FAILED);
  EXPECT_EQ(done.ended_reason, "trunk_error");
  EXPECT_EQ(LastDetail(calls, id, "sip_code"), "503");
  EXPECT_EQ(peer.Wait(absl::Seconds(15)), 0) << peer.Errors();
  EXPECT_EQ(CountInvitesReceived(peer.Messages()), 1) << peer.Messages();
}

// The callee presses 7 (RFC 4733 telephone events from a real peer): the call records the key.
TEST_F(SipCallTest, CalleeKeyPressArrivesAsDtmfEvent) {
  SippPeer peer = SippPeer::Start("answer_dtmf.xml", {{"codec_pt", "0"}});
  CallsEnv calls(services_->redis());
  InProcessWorker worker(*services_, calls, {.sip = sip_});
  std::string id = calls.CreateCall(
      {.agent = AgentFor(peer), .to = NewNumber(), .context_json = R"({"test_prompt_ms": 2500})"});
  calls::CallRecord done = calls.WaitTerminal(id, absl::Seconds(30));
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_COMPLETED) << done.ended_reason;
  std::vector<std::string> digits;
  for (const calls::CallEvent& e : calls.Events(id)) {
    if (e.type == "dtmf") digits.push_back(e.detail.count("digit") ? e.detail.at("digit") : "?");
  }
  EXPECT_EQ(digits, std::vector<std::string>{"7"});
  EXPECT_EQ(peer.Wait(absl::Seconds(10)), 0) << peer.Errors();
}

// A trunk with transport tcp: the same call over a TCP connection (sipp listening on TCP).
TEST_F(SipCallTest, TcpTrunkCarriesTheCall) {
  SippPeer peer = SippPeer::Start("answer.xml", {{"codec_pt", "0"}}, {"-t", "t1"});
  CallsEnv calls(services_->redis());
  InProcessWorker worker(*services_, calls, {.sip = sip_});
  const std::string agent = AgentFor(peer, R"(["pcmu"])", "", "tcp");
  std::string id = calls.CreateCall(
      {.agent = agent, .to = NewNumber(), .context_json = R"({"test_prompt_ms": 600})"});
  calls::CallRecord done = calls.WaitTerminal(id, absl::Seconds(30));
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_COMPLETED) << done.ended_reason;
  EXPECT_EQ(peer.Wait(absl::Seconds(10)), 0) << peer.Errors();
  const std::string log = peer.Messages();
  EXPECT_NE(log.find("TCP message received"), std::string::npos);
  // Our Contact says TCP, so the trunk's requests in the dialog come back over TCP too (without
  // the parameter RFC 3263 would have it use UDP).
  const size_t invite = log.find("INVITE sip:");
  ASSERT_NE(invite, std::string::npos) << log;
  const size_t contact = log.find("Contact: <sip:", invite);
  ASSERT_NE(contact, std::string::npos) << log;
  const std::string our_contact = log.substr(contact, log.find('\n', contact) - contact);
  EXPECT_NE(our_contact.find(";transport=tcp>"), std::string::npos) << our_contact;
}

int CountRequests(const std::string& log, absl::string_view method) {
  int n = 0;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (absl::StartsWith(line, absl::StrCat(method, " sip:"))) ++n;
  }
  return n;
}

class SipHoldTest : public SipCallTest,
                    public ::testing::WithParamInterface<std::pair<std::string, std::string>> {};

// The callee holds the call with a re-INVITE (sendonly or inactive) and later resumes it
// (sendrecv): each answer mirrors the offer's direction (sipp checks a=recvonly / a=inactive,
// then a=sendrecv), the call stays up through both, and our prompt still comes back in sipp's
// echo after the hold. The call completes normally.
TEST_P(SipHoldTest, HoldAndResumeReinvitesKeepTheCall) {
  const auto& [offered, answered] = GetParam();
  ExpectHoldAndResumeKeepTheCall("hold.xml", offered, answered);
}

// The same with UPDATE (RFC 3311) instead of re-INVITE, as some PBXes hold a call: each 200
// carries our answer mirroring the offer (no ACK follows an UPDATE), and a last UPDATE without
// SDP — a session refresh — gets a 200 without SDP (sipp checks Content-Length: 0).
TEST_P(SipHoldTest, HoldAndResumeUpdatesKeepTheCall) {
  const auto& [offered, answered] = GetParam();
  ExpectHoldAndResumeKeepTheCall("hold_update.xml", offered, answered);
}

// A re-INVITE that moves the callee's media to another address (a PBX handing the call to
// another media server): our RTP goes there from the re-INVITE on — not only once packets come
// from there, which a one-way media server may never send. The new address is a socket of the
// test's, which sends nothing and counts the RTP (PCMU) that arrives.
TEST_F(SipCallTest, ReinviteMovingTheMediaMovesOurRtp) {
  const int new_port = sip::testing::FreeLoopbackPort();
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(new_port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0) << new_port;
  timeval tv{.tv_sec = 0, .tv_usec = 100'000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::atomic<bool> stop = false;
  std::atomic<int> rtp = 0;
  std::thread counter([&] {
    unsigned char packet[2048];
    while (!stop) {
      const ssize_t n = recv(fd, packet, sizeof(packet), 0);
      if (n >= 12 && (packet[0] & 0xC0) == 0x80 && (packet[1] & 0x7F) == 0) ++rtp;
    }
  });

  SippPeer peer = SippPeer::Start("media_move.xml", {{"new_port", absl::StrCat(new_port)}});
  CallsEnv calls(services_->redis());
  InProcessWorker worker(*services_, calls, {.sip = sip_});
  std::string id = calls.CreateCall(
      {.agent = AgentFor(peer), .to = NewNumber(), .context_json = R"({"test_prompt_ms": 4000})"});
  calls::CallRecord done = calls.WaitTerminal(id, absl::Seconds(30));
  stop = true;
  counter.join();
  close(fd);
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_COMPLETED) << done.ended_reason;
  EXPECT_EQ(peer.Wait(absl::Seconds(10)), 0) << peer.Errors();
  // The move comes 1 s after the answer and the agent talks for 4 s: about 150 packets of 20 ms
  // should arrive; at least one second's worth must.
  EXPECT_GE(rtp.load(), 50);
}

void SipCallTest::ExpectHoldAndResumeKeepTheCall(const std::string& scenario,
                                                 const std::string& offered,
                                                 const std::string& answered) {
  SippPeer peer =
      SippPeer::Start(scenario, {{"hold_direction", offered}, {"hold_answer", answered}});
  CallsEnv calls(services_->redis());
  InProcessWorker worker(*services_, calls, {.sip = sip_});
  std::string id = calls.CreateCall(
      {.agent = AgentFor(peer), .to = NewNumber(), .context_json = R"({"test_prompt_ms": 5000})"});
  calls::CallRecord done = calls.WaitTerminal(id, absl::Seconds(40));
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_COMPLETED) << done.ended_reason;
  EXPECT_EQ(done.ended_reason, "agent_hangup");
  EXPECT_EQ(peer.Wait(absl::Seconds(10)), 0) << peer.Errors();
  const std::string log = peer.Messages();
  EXPECT_NE(log.find(absl::StrCat("a=", answered)), std::string::npos) << log;
  EXPECT_GE(worker.pipelines().Heard(id).size(), 8000u) << "no audio came back";
  // With the default options we never ask for a session timer of our own: sofia's default
  // (1800 s) would have us send an SDP-less refresh at 15 minutes.
  EXPECT_EQ(log.find("Session-Expires:"), std::string::npos) << log;
}

// The callee sends an UPDATE with an offer while ringing, before our INVITE's offer has its
// answer: it gets 491 Request Pending (sipp requires it) and changes nothing — the call is then
// answered and completes normally, with audio both ways.
TEST_F(SipCallTest, OfferInAnUpdateBeforeTheAnswerIsRefusedWithRequestPending) {
  SippPeer peer = SippPeer::Start("early_update.xml");
  CallsEnv calls(services_->redis());
  InProcessWorker worker(*services_, calls, {.sip = sip_});
  std::string id = calls.CreateCall(
      {.agent = AgentFor(peer), .to = NewNumber(), .context_json = R"({"test_prompt_ms": 2000})"});
  calls::CallRecord done = calls.WaitTerminal(id, absl::Seconds(30));
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_COMPLETED) << done.ended_reason;
  EXPECT_EQ(done.ended_reason, "agent_hangup");
  EXPECT_EQ(peer.Wait(absl::Seconds(10)), 0) << peer.Errors() << peer.Messages();
  EXPECT_NE(peer.Messages().find("SIP/2.0 491"), std::string::npos) << peer.Messages();
  EXPECT_GE(worker.pipelines().Heard(id).size(), 8000u) << "no audio came back";
}

INSTANTIATE_TEST_SUITE_P(
    Directions, SipHoldTest,
    ::testing::Values(std::pair<std::string, std::string>{"sendonly", "recvonly"},
                      std::pair<std::string, std::string>{"inactive", "inactive"}),
    [](const ::testing::TestParamInfo<std::pair<std::string, std::string>>& info) {
      return info.param.first;
    });

// The callee sets a short session timer (10 s) and makes us the refresher: our INVITE offered
// timers, nua refreshes the session with UPDATE before it expires, and the call outlives the
// interval and completes normally (without refreshes sipp would not see any UPDATE and the
// session would lapse at 10 s).
TEST_F(SipCallTest, SessionTimerIsRefreshedWhenTheCalleeAsks) {
  std::unique_ptr<sip::SipTelephony> telephony = ShortSessionTimerTelephony();
  ASSERT_NE(telephony, nullptr);
  SippPeer peer = SippPeer::Start("refresh.xml", {{"expires", "10"}});
  CallsEnv calls(services_->redis());
  InProcessWorker worker(*services_, calls, {.sip = telephony.get()});
  std::string id = calls.CreateCall(
      {.agent = AgentFor(peer), .to = NewNumber(), .context_json = R"({"test_prompt_ms": 12000})"});
  calls::CallRecord done = calls.WaitTerminal(id, absl::Seconds(60));
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_COMPLETED) << done.ended_reason;
  EXPECT_EQ(done.ended_reason, "agent_hangup");
  EXPECT_EQ(peer.Wait(absl::Seconds(10)), 0) << peer.Errors();
  // Refreshes at about half the interval (5 s, 10 s): the timer re-arms after each.
  EXPECT_GE(CountRequests(peer.Messages(), "UPDATE"), 2) << peer.Messages();
}

// The callee keeps the session alive itself (refresher=uas, 10 s), as a trunk does at 15 minutes
// of an 1800 s timer: a re-INVITE with its SDP, one without SDP, and an UPDATE. Each gets a 200
// that keeps the callee as refresher (sipp checks Session-Expires ...;refresher=uas), the first
// with our SDP unchanged (same o= version), the SDP-less one with our SDP as the offer. The call
// outlives the interval and ends normally.
TEST_F(SipCallTest, SessionRefreshesFromTheCalleeAreAnswered) {
  std::unique_ptr<sip::SipTelephony> telephony = ShortSessionTimerTelephony();
  ASSERT_NE(telephony, nullptr);
  SippPeer peer = SippPeer::Start("refresh_uas.xml", {{"expires", "10"}});
  CallsEnv calls(services_->redis());
  InProcessWorker worker(*services_, calls, {.sip = telephony.get()});
  std::string id = calls.CreateCall(
      {.agent = AgentFor(peer), .to = NewNumber(), .context_json = R"({"test_prompt_ms": 11000})"});
  calls::CallRecord done = calls.WaitTerminal(id, absl::Seconds(60));
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_COMPLETED) << done.ended_reason;
  EXPECT_EQ(done.ended_reason, "agent_hangup");
  EXPECT_EQ(peer.Wait(absl::Seconds(10)), 0) << peer.Errors() << peer.Messages();
  EXPECT_GE(CountRequests(peer.Messages(), "INVITE"), 3) << peer.Messages();
}

// The callee takes the refresher role and then never refreshes (a crashed trunk): the stack
// ends the session before it expires (RFC 4028 §10, a BYE of its own), and the call ends with it
// rather than talking to nobody until its prompt or max duration runs out.
TEST_F(SipCallTest, SessionTheCalleeStopsRefreshingEndsTheCall) {
  std::unique_ptr<sip::SipTelephony> telephony = ShortSessionTimerTelephony();
  ASSERT_NE(telephony, nullptr);
  SippPeer peer = SippPeer::Start("expire_uas.xml", {{"expires", "10"}});
  CallsEnv calls(services_->redis());
  InProcessWorker worker(*services_, calls, {.sip = telephony.get()});
  std::string id = calls.CreateCall(
      {.agent = AgentFor(peer), .to = NewNumber(), .context_json = R"({"test_prompt_ms": 40000})"});
  calls::CallRecord done = calls.WaitTerminal(id, absl::Seconds(60));
  EXPECT_EQ(done.ended_reason, "media_lost") << calls::StatusName(done.status);
  EXPECT_EQ(peer.Wait(absl::Seconds(10)), 0) << peer.Errors() << peer.Messages();
  EXPECT_EQ(CountRequests(peer.Messages(), "BYE"), 1) << peer.Messages();
}

struct TransferCase {
  std::string name;
  std::string sipfrag;  // the NOTIFY's final status line
  std::string ended_reason;
  std::string sip_code;
};

class SipTransferTest : public SipCallTest, public ::testing::WithParamInterface<TransferCase> {};

// The agent transfers the call after its prompt (the `transfer` tool's path:
// PipelineHost::TransferCall). The worker sends one REFER whose Refer-To names the target (sipp
// checks it), sipp accepts it (202) and reports its call to the target in NOTIFYs (sipfrag
// "100 Trying", then the final status), and the worker hangs up (sipp requires our BYE either
// way). Target answered: completed/"transferred" with sip_code 200. Target declined (603): a
// "transfer_failed" event with the code, completed/"transfer_failed". Read back from Redis (the
// call's events) and Postgres (the attempt's record).
TEST_P(SipTransferTest, ReferEndsTheCallWithTheTransferOutcome) {
  const TransferCase& c = GetParam();
  SippPeer peer =
      SippPeer::Start("refer.xml", {{"refer_target", "14155550111"}, {"sipfrag", c.sipfrag}});
  CallsEnv calls(services_->redis());
  InProcessWorker worker(*services_, calls, {.sip = sip_});
  std::string id = CreateTransferringCall(calls, peer);
  calls::CallRecord done = calls.WaitTerminal(id, absl::Seconds(30));
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_COMPLETED);
  EXPECT_EQ(done.ended_reason, c.ended_reason);
  EXPECT_EQ(calls.StatusTrail(id), (std::vector<std::string>{"queued", "assigned", "dialing",
                                                             "in_progress", "completed"}));
  std::vector<calls::CallEvent> failures;
  for (const calls::CallEvent& e : calls.Events(id)) {
    if (e.type == "transfer_failed") failures.push_back(e);
  }
  if (c.ended_reason == "transferred") {
    EXPECT_TRUE(failures.empty());
  } else {
    ASSERT_EQ(failures.size(), 1u);
    EXPECT_EQ(failures[0].detail["sip_code"], c.sip_code);
    EXPECT_NE(failures[0].detail["error"].find(c.sipfrag), std::string::npos)
        << failures[0].detail["error"];
  }
  EXPECT_EQ(LastDetail(calls, id, "sip_code"), c.sip_code);
  auto record = services_->StateRecord(id, 1);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->status(), parley::v1::CALL_STATUS_COMPLETED);
  EXPECT_EQ(record->ended_reason(), c.ended_reason);
  EXPECT_EQ(peer.Wait(absl::Seconds(10)), 0) << peer.Errors() << peer.Messages();
  EXPECT_EQ(CountRequests(peer.Messages(), "REFER"), 1) << peer.Messages();
  EXPECT_EQ(CountRequests(peer.Messages(), "BYE"), 1) << peer.Messages();
}

INSTANTIATE_TEST_SUITE_P(
    Outcomes, SipTransferTest,
    ::testing::Values(TransferCase{"Answered", "SIP/2.0 200 OK", "transferred", "200"},
                      TransferCase{"Declined", "SIP/2.0 603 Declined", "transfer_failed", "603"}),
    [](const ::testing::TestParamInfo<TransferCase>& info) { return info.param.name; });

// Over UDP the transferee's BYE (it hangs up the original call once the target answered, RFC
// 5589 §6.1) can overtake the final NOTIFY. The worker waits a moment for that NOTIFY rather than
// taking the BYE for a hang-up: the NOTIFY still gets its 200 (sipp requires it — the stack
// would answer 481 once the dialog's handle were gone), the call completes as "transferred"
// with the NOTIFY's 200, and the dialog's handle is released after it.
TEST_F(SipCallTest, ByeBeforeTheFinalNotifyStillCompletesTheTransfer) {
  SippPeer peer = SippPeer::Start("refer_bye_first.xml",
                                  {{"refer_target", "14155550111"}, {"sipfrag", "SIP/2.0 200 OK"}});
  CallsEnv calls(services_->redis());
  InProcessWorker worker(*services_, calls, {.sip = sip_});
  std::string id = CreateTransferringCall(calls, peer);
  calls::CallRecord done = calls.WaitTerminal(id, absl::Seconds(30));
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_COMPLETED);
  EXPECT_EQ(done.ended_reason, "transferred");
  EXPECT_EQ(LastDetail(calls, id, "sip_code"), "200");
  EXPECT_EQ(peer.Wait(absl::Seconds(10)), 0) << peer.Errors() << peer.Messages();
  EXPECT_TRUE(NothingTracked()) << sip_->TrackedCalls() << " calls still tracked";
}

// The transferee hangs up after "100 Trying" and no final NOTIFY ever comes: after its short wait
// for one the worker records the transfer as failed — completed/"transfer_failed" with a
// "transfer_failed" event — and the dialog kept for the NOTIFY is released (nothing is left
// tracked by the stack).
TEST_F(SipCallTest, ByeWithoutAFinalNotifyFailsTheTransfer) {
  SippPeer peer = SippPeer::Start("refer_bye_only.xml", {{"refer_target", "14155550111"}});
  CallsEnv calls(services_->redis());
  InProcessWorker worker(*services_, calls, {.sip = sip_});
  std::string id = CreateTransferringCall(calls, peer);
  calls::CallRecord done = calls.WaitTerminal(id, absl::Seconds(30));
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_COMPLETED);
  EXPECT_EQ(done.ended_reason, "transfer_failed");
  int failures = 0;
  for (const calls::CallEvent& e : calls.Events(id)) failures += e.type == "transfer_failed";
  EXPECT_EQ(failures, 1);
  EXPECT_EQ(peer.Wait(absl::Seconds(10)), 0) << peer.Errors() << peer.Messages();
  EXPECT_TRUE(NothingTracked()) << sip_->TrackedCalls() << " calls still tracked";
}

// A trunk that does not do transfers refuses the REFER itself (405): no NOTIFY follows; the
// failure is recorded with the code and the worker hangs up: completed/"transfer_failed".
TEST_F(SipCallTest, RefusedReferIsRecordedAndTheCallEnds) {
  SippPeer peer = SippPeer::Start(
      "refer_refused.xml",
      {{"refer_target", "14155550111"}, {"code", "405"}, {"reason", "Method Not Allowed"}});
  CallsEnv calls(services_->redis());
  InProcessWorker worker(*services_, calls, {.sip = sip_});
  std::string id = CreateTransferringCall(calls, peer, 300);
  calls::CallRecord done = calls.WaitTerminal(id, absl::Seconds(20));
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_COMPLETED);
  EXPECT_EQ(done.ended_reason, "transfer_failed");
  std::map<std::string, std::string> failure;
  for (const calls::CallEvent& e : calls.Events(id)) {
    if (e.type == "transfer_failed") failure = e.detail;
  }
  EXPECT_EQ(failure["sip_code"], "405");
  EXPECT_NE(failure["error"].find("REFER refused"), std::string::npos) << failure["error"];
  EXPECT_EQ(peer.Wait(absl::Seconds(10)), 0) << peer.Errors() << peer.Messages();
}

// A cancel while the transfer waits for its outcome (the transferee reported only 100 Trying)
// ends the call at once as canceled — not after the transfer timeout (45 s): the worker sends
// BYE (sipp requires it) and no transfer_failed event is written.
TEST_F(SipCallTest, CancelDuringATransferEndsTheCallAtOnce) {
  SippPeer peer = SippPeer::Start("refer_hang.xml", {{"refer_target", "14155550111"}});
  CallsEnv calls(services_->redis());
  InProcessWorker worker(*services_, calls, {.sip = sip_});
  std::string id = CreateTransferringCall(calls, peer, 300);
  calls.WaitStatus(id, parley::v1::CALL_STATUS_IN_PROGRESS);
  absl::SleepFor(absl::Seconds(2));  // the prompt plays, the REFER goes out and is accepted
  ASSERT_TRUE(calls.store().Cancel(id, "changed our mind", absl::ToUnixMillis(absl::Now())).ok());
  calls::CallRecord done = calls.WaitTerminal(id, absl::Seconds(20));
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_CANCELED) << done.ended_reason;
  EXPECT_EQ(done.ended_reason, "canceled");
  for (const calls::CallEvent& e : calls.Events(id)) EXPECT_NE(e.type, "transfer_failed");
  EXPECT_EQ(peer.Wait(absl::Seconds(10)), 0) << peer.Errors() << peer.Messages();
  EXPECT_EQ(CountRequests(peer.Messages(), "REFER"), 1) << peer.Messages();
}

// Inbound calls are not routed yet: an INVITE to the worker's SIP port gets 404.
TEST_F(SipCallTest, InboundInviteIsRefusedWithNotFound) {
  SippPeer caller =
      SippPeer::Start("inbound_invite.xml", {},
                      {"-s", "+14155550123", absl::StrCat("127.0.0.1:", sip_->sip_port())});
  EXPECT_EQ(caller.Wait(absl::Seconds(20)), 0) << caller.Errors();
}

}  // namespace
}  // namespace parley::worker
