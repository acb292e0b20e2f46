// The lead-qualifier example agent, on the embedded voice pipeline (espeak, pocketsphinx, the
// scripted policy), calls baresip — a real softphone, not written here — over a SIP trunk. baresip
// answers by itself and records what it hears; the recording must hold the agent's greeting
// ("Hi, this is the virtual assistant from …", about five seconds of espeak): its length and
// seconds of speech-level energy, in G.711 μ-law and in Opus. (Recognising the words with
// pocketsphinx is not checked: on this recording it returns words the agent did not say, for
// both codecs — see the branch report.)
#include <gtest/gtest.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "common/audio/tone.h"
#include "common/audio/wav.h"
#include "common/docs/resource_docs.h"
#include "services/config-api/resource_kind.h"
#include "services/worker/service_clients.h"
#include "services/worker/sip/sip_telephony.h"
#include "services/worker/sip/testing/baresip.h"
#include "services/worker/testing/worker_env.h"
#include "services/worker/voice/conversation_recorder.h"
#include "services/worker/voice/embedded_providers.h"
#include "services/worker/voice/engine_dialogue.h"
#include "services/worker/voice/voice_pipeline.h"

namespace parley::worker {
namespace {

using sip::testing::BaresipPeer;
using testing::CallsEnv;
using testing::InProcessWorker;
using testing::ServicesEnv;

// Seconds of `pcm` (16 kHz) in 20 ms frames louder than speech-level RMS.
double VoicedSeconds(std::span<const int16_t> pcm) {
  int voiced = 0;
  for (size_t at = 0; at + 320 <= pcm.size(); at += 320) {
    if (audio::Rms(pcm.subspan(at, 320)) > 300) ++voiced;
  }
  return voiced * 0.02;
}

class SipBaresipTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    // What the callee says: a short phrase, then silence long enough for the whole test.
    callee_wav_ = ::testing::TempDir() + "/callee-" + GetParam() + ".wav";
    const int rate = GetParam() == "opus" ? 48000 : 8000;
    const int channels = GetParam() == "opus" ? 2 : 1;  // baresip's opus wants a stereo source
    ASSERT_EQ(std::system(absl::StrCat("espeak-ng -w ", callee_wav_, ".raw.wav 'hello' && sox ",
                                       callee_wav_, ".raw.wav -r ", rate, " -c ", channels, " ",
                                       callee_wav_, " pad 0 40")
                              .c_str()),
              0);
    phone_ = std::make_unique<BaresipPeer>(BaresipPeer::Start(
        {.speak_wav = callee_wav_, .codecs = GetParam() == "opus" ? "opus.so" : "g711.so"}));
    services_ = std::make_unique<ServicesEnv>();
    auto docs = docs::LoadResourceDocs(std::string(PARLEY_SOURCE_DIR) + "/deploy/examples");
    ASSERT_TRUE(docs.ok()) << docs.status();
    for (docs::ResourceDoc& doc : docs::OrderForApply(std::move(*docs))) {
      if (doc.kind == "dnc") continue;
      if (doc.kind == "trunk" && doc.name == "sim-phone") {
        doc.spec = {{"kind", "sip"},
                    {"sip",
                     {{"host", "127.0.0.1"},
                      {"port", phone_->port()},
                      {"codecs", {GetParam()}},
                      {"rtp_port_min", 30000},
                      {"rtp_port_max", 40000}}}};
      }
      std::optional<parley::v1::ResourceKind> kind = config::ParseKind(doc.kind);
      ASSERT_TRUE(kind.has_value()) << doc.kind;
      services_->Apply(*kind, doc.name, doc.spec.dump());
    }
    auto sip = sip::SipTelephony::Create(
        {.sip_address = "127.0.0.1", .sip_port = 0, .rtp_address = "127.0.0.1"});
    ASSERT_TRUE(sip.ok()) << sip.status();
    sip_ = *std::move(sip);
    calls_ = std::make_unique<CallsEnv>(services_->redis());
    state_ =
        std::make_unique<StateClient>(grpcx::ClientOptions{.address = services_->state_address()});
    config_ = std::make_unique<ConfigClient>(
        grpcx::ClientOptions{.address = services_->config_address()});
    recorder_ = std::make_unique<GrpcConversationRecorder>(state_.get(), config_.get());
    RegisterEmbeddedProviders(registry_, {});
    factory_ = std::make_unique<VoicePipelineFactory>(VoicePipelineOptions{
        .providers = &registry_, .recorder = recorder_.get(), .dialogues = MakeEngineDialogue});
    worker_ = std::make_unique<InProcessWorker>(*services_, *calls_,
                                                testing::WorkerSettings{.max_calls = 2,
                                                                        .lease = absl::Seconds(5),
                                                                        .pipelines = factory_.get(),
                                                                        .sip = sip_.get()});
  }

  void TearDown() override {
    worker_.reset();
    calls_.reset();
    phone_.reset();
    sip_.reset();
    services_.reset();
  }

  std::string callee_wav_;
  std::unique_ptr<BaresipPeer> phone_;
  std::unique_ptr<ServicesEnv> services_;
  std::unique_ptr<sip::SipTelephony> sip_;
  std::unique_ptr<CallsEnv> calls_;
  std::unique_ptr<StateClient> state_;
  std::unique_ptr<ConfigClient> config_;
  std::unique_ptr<GrpcConversationRecorder> recorder_;
  ProviderRegistry registry_;
  std::unique_ptr<VoicePipelineFactory> factory_;
  std::unique_ptr<InProcessWorker> worker_;
};

TEST_P(SipBaresipTest, SoftphoneHearsTheAgentGreeting) {
  std::string id = calls_->CreateCall({.agent = "lead-qualifier", .to = "+14155550142"});
  calls_->WaitStatus(id, parley::v1::CALL_STATUS_IN_PROGRESS, absl::Seconds(30));
  // The greeting lasts about five seconds; then the agent waits for an answer.
  std::this_thread::sleep_for(std::chrono::seconds(8));
  ASSERT_TRUE(calls_->store().Cancel(id, "test done", absl::ToUnixMillis(absl::Now())).ok());
  calls::CallRecord done = calls_->WaitTerminal(id, absl::Seconds(20));
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_CANCELED);
  phone_->Stop();

  std::optional<std::string> path = phone_->Recording();
  ASSERT_TRUE(path.has_value()) << phone_->Log();
  // baresip records at the codec's rate and channels (Opus: 48 kHz stereo): sox makes it 16 kHz
  // mono.
  const std::string mono = *path + ".16k.wav";
  ASSERT_EQ(std::system(absl::StrCat("sox ", *path, " -r 16000 -c 1 ", mono).c_str()), 0);
  absl::StatusOr<audio::Wav> wav = audio::ReadWav(mono);
  ASSERT_TRUE(wav.ok()) << wav.status();
  const std::vector<int16_t>* heard = &wav->samples;
  EXPECT_GE(heard->size(), 16000u * 4) << "recording shorter than the greeting";
  EXPECT_GE(VoicedSeconds(*heard), 1.5) << "too little speech in " << *path;
}

INSTANTIATE_TEST_SUITE_P(Codecs, SipBaresipTest, ::testing::Values("pcmu", "opus"));

}  // namespace
}  // namespace parley::worker
