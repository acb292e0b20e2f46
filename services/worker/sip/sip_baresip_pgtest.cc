// The lead-qualifier example agent, on the embedded voice pipeline (espeak, pocketsphinx, the
// scripted policy), calls baresip — a real softphone, not written here — over a SIP trunk. baresip
// answers by itself and records what it hears; the recording must hold the agent's greeting
// ("Hi, this is the virtual assistant from Northwind Software. May I speak with Taylor Morgan,
// please?", about six seconds of espeak), in G.711 μ-law and in Opus: checked by its length and
// seconds of speech-level energy, and by pocketsphinx. Free recognition (the en-us language model)
// mishears espeak on this line, so the words are checked as a choice: a JSGF grammar holds the
// greeting's two sentences among distractor sentences of similar length — two of them the same
// sentences with another company or name — and the decoder must pick the greeting's, in order.
// As controls, distractors spoken through the same codec and what the callee itself played must
// not read as the greeting. (With the callee saying "hello" at answer, its word barged in on the
// greeting and both checks of words failed while the energy check passed.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/audio/resampler.h"
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

#ifdef PARLEY_HAVE_POCKETSPHINX
#include "common/speech/pocketsphinx_stt.h"
#endif

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

// The greeting the example agent says first (deploy/examples/lead-qualifier.yaml, node `greet`,
// with the agent's default_context), one sentence per entry, as the grammar spells it: "Northwind"
// is not in the pocketsphinx dictionary, "north wind" is how espeak says it.
const std::vector<std::string> kGreeting = {
    "hi this is the virtual assistant from north wind software",
    "may i speak with taylor morgan please",
};
// Sentences the agent never says, of about the length of the greeting's sentences, for the
// recogniser to choose from. The first two differ from a greeting sentence only in the company or
// the name, so the greeting wins only if those words are heard too.
const std::vector<std::string> kDistractors = {
    "hi this is the virtual assistant from the city water department",
    "may i speak with the account holder please",
    "hello this is the billing department of your electric company",
    "good morning you have reached the front desk of the hotel",
    "thank you for calling the pharmacy on main street",
    "please hold while we connect you to an agent",
    "would you like to hear about our special offers",
    "can you tell me where the train station is",
};

// The 16 kHz mono audio of the WAV file at `path` (any channels, 16-bit or G.711 samples), made
// as the SIP leg makes it: channels mixed by sox, then speexdsp (audio::Resampler) from the file's
// rate to 16 kHz, as RtpSession does from the codec's rate.
std::vector<int16_t> PipelineAudio(const std::string& path) {
  const std::string mono = path + ".mono.wav";
  if (std::system(absl::StrCat("sox ", path, " -e signed -b 16 -c 1 ", mono).c_str()) != 0) {
    ADD_FAILURE() << "sox cannot read " << path;
    return {};
  }
  absl::StatusOr<audio::Wav> wav = audio::ReadWav(mono);
  if (!wav.ok()) {
    ADD_FAILURE() << wav.status();
    return {};
  }
  absl::StatusOr<std::vector<int16_t>> pcm =
      audio::Resampler::ConvertClip(wav->samples, wav->sample_rate, 16000);
  if (!pcm.ok()) {
    ADD_FAILURE() << pcm.status();
    return {};
  }
  return *std::move(pcm);
}

// What pocketsphinx hears in `pcm` (16 kHz), restricted to the greeting's and the distractors'
// sentences (any of them, one or more in a row); empty when no path through the grammar
// survives. Deterministic: a fresh decoder for each clip, which hears the clip twice as one
// utterance each time and answers with the second hypothesis — the first pass adapts its
// cepstral mean to the line (the model's initial mean suits wideband microphone audio, not 8 kHz
// telephone audio), and wide beams keep the long sentences' paths alive (pocketsphinx_stt.h).
std::string RecogniseAmongDistractors(std::span<const int16_t> pcm) {
#ifdef PARLEY_HAVE_POCKETSPHINX
  auto stt = speech::PocketsphinxRecognizer::Create({.beam = 1e-80});
  if (!stt.ok()) {
    ADD_FAILURE() << stt.status();
    return "";
  }
  std::vector<std::string> phrases = kGreeting;
  phrases.insert(phrases.end(), kDistractors.begin(), kDistractors.end());
  absl::StatusOr<std::vector<std::string>> kept = (*stt)->SetPhrases(phrases);
  if (!kept.ok()) {
    ADD_FAILURE() << kept.status();
    return "";
  }
  // A sentence with a word missing from the dictionary would be dropped silently.
  EXPECT_EQ(*kept, phrases) << "a sentence has a word pocketsphinx does not know";
  absl::StatusOr<std::string> text;
  for (int pass = 0; pass < 2; ++pass) {
    EXPECT_TRUE((*stt)->StartUtterance().ok());
    for (size_t at = 0; at < pcm.size(); at += 320) {
      EXPECT_TRUE((*stt)->Process(pcm.subspan(at, std::min<size_t>(320, pcm.size() - at))).ok());
    }
    text = (*stt)->EndUtterance();
    if (!text.ok()) {
      ADD_FAILURE() << text.status();
      return "";
    }
  }
  return *std::move(text);
#else
  (void)pcm;
  ADD_FAILURE() << "built without pocketsphinx (libpocketsphinx-dev, pocketsphinx-en-us)";
  return "";
#endif
}

class SipBaresipTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    // What the callee says: nothing for 20 s, then "hello". A word during the greeting would barge
    // in on it (the agent stops talking, as it should, and answers), and the recording would hold
    // "Hi" and the answer instead of the greeting; the test hangs up before the "hello".
    callee_wav_ = ::testing::TempDir() + "/callee-" + GetParam() + ".wav";
    const int rate = GetParam() == "opus" ? 48000 : 8000;
    const int channels = GetParam() == "opus" ? 2 : 1;  // baresip's opus wants a stereo source
    ASSERT_EQ(std::system(absl::StrCat("espeak-ng -w ", callee_wav_, ".raw.wav 'hello' && sox ",
                                       callee_wav_, ".raw.wav -r ", rate, " -c ", channels, " ",
                                       callee_wav_, " pad 20 20")
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
                      {"rtp_port_min", 10000},
                      {"rtp_port_max", 20000}}}};
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
  // The greeting lasts about six seconds; then the agent waits for an answer, in silence.
  std::this_thread::sleep_for(std::chrono::seconds(10));
  ASSERT_TRUE(calls_->store().Cancel(id, "test done", absl::ToUnixMillis(absl::Now())).ok());
  calls::CallRecord done = calls_->WaitTerminal(id, absl::Seconds(20));
  EXPECT_EQ(done.status, parley::v1::CALL_STATUS_CANCELED);
  phone_->Stop();

  std::optional<std::string> path = phone_->Recording();
  ASSERT_TRUE(path.has_value()) << phone_->Log();
  // baresip records at the codec's rate and channels (Opus: 48 kHz stereo).
  const std::vector<int16_t> heard = PipelineAudio(*path);
  EXPECT_GE(heard.size(), 16000u * 4) << "recording shorter than the greeting";
  EXPECT_GE(VoicedSeconds(heard), 1.5) << "too little speech in " << *path;

  // The words: the greeting's two sentences must beat the distractors, in order.
  const std::string greeting = absl::StrJoin(kGreeting, " ");
  EXPECT_EQ(RecogniseAmongDistractors(heard), greeting) << "recording: " << *path;

  // Controls, decoded the same way, must not read as the greeting: distractors spoken by espeak
  // at the codec's rate (μ-law samples for PCMU), and what the callee played ("hello" after 20 s
  // of silence).
  const auto not_greeting = ::testing::AllOf(::testing::Not(::testing::HasSubstr(kGreeting[0])),
                                             ::testing::Not(::testing::HasSubstr(kGreeting[1])));
  const std::string other = callee_wav_ + ".other.wav";
  const std::string other_text = absl::StrCat(kDistractors[2], ". ", kDistractors[5], ".");
  ASSERT_EQ(std::system(absl::StrCat("espeak-ng -v en-us -w ", other, ".raw.wav '", other_text,
                                     "' && sox ", other, ".raw.wav -r ",
                                     GetParam() == "opus" ? "48000 -c 2 " : "8000 -e u-law ", other)
                            .c_str()),
            0);
  const std::string other_heard = RecogniseAmongDistractors(PipelineAudio(other));
  EXPECT_THAT(other_heard, not_greeting);
  // …and the recogniser does hear sentences on this line: a distractor wins.
  EXPECT_THAT(other_heard, ::testing::Not(::testing::IsEmpty()));
  EXPECT_THAT(RecogniseAmongDistractors(PipelineAudio(callee_wav_)), not_greeting);
}

INSTANTIATE_TEST_SUITE_P(Codecs, SipBaresipTest, ::testing::Values("pcmu", "opus"));

}  // namespace
}  // namespace parley::worker
