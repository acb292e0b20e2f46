// `parleyctl phone` as a subprocess: a worker-like client calls it, the persona answers and
// replies, hangs up, the call is recorded, and stdout tells the story one line per event.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "cli/parleyctl/cli.h"
#include "common/audio/wav.h"
#include "common/grpc/client.h"
#include "common/media/audio_stream.h"
#include "common/speech/espeak_tts.h"
#include "common/speech/vad.h"
#include "common/testing/subprocess.h"
#include "parley/v1/media.grpc.pb.h"

namespace parley::cli {
namespace {

namespace fs = std::filesystem;
using parley::v1::MediaMessage;
using ::testing::HasSubstr;

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class PhoneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("parleyctl-phone-" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(PhoneTest, AnswersRepliesHangsUpAndRecords) {
  const fs::path persona = dir_ / "lead.yaml";
  std::ofstream(persona) << "kind: persona\nname: lead\nspec:\n  ring_ms: 200\n  pause_ms: 500\n"
                            "  replies: [\"Yes, speaking.\"]\n"
                            "  hangup: {after_last_reply_ms: 300}\n";
  const fs::path wav = dir_ / "call.wav";
  const fs::path log = dir_ / "phone.log";
  const std::string address = "127.0.0.1:" + std::to_string(testing::FreePort());
  testing::Subprocess phone({testing::BinaryPath("cli/parleyctl/parleyctl"), "phone", "--listen",
                             address, "--persona", persona.string(), "--record", wav.string()},
                            {}, log.string());
  // Connect once it listens (a channel that failed to connect backs off for seconds).
  for (int i = 0; i < 100 && ReadAll(log).find("listening on") == std::string::npos; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  auto channel = grpcx::MakeChannel({.address = address});
  bool up = false;
  for (int i = 0; i < 100 && !up; ++i) {
    auto health = grpcx::CheckHealth(channel, "", absl::Seconds(1));
    up = health.ok() && *health == grpcx::HealthStatus::kServing;
    if (!up) absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE(up) << ReadAll(log);

  // The worker's side: Invite, wait for Answer, say something, wait for the callee's Hangup.
  auto stub = parley::v1::MediaEndpoint::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream = stub->Call(&ctx);
  MediaMessage invite;
  invite.mutable_invite()->set_call_id("call-phone-1");
  invite.mutable_invite()->set_to("+14155550100");
  invite.mutable_invite()->set_agent("lead-qualifier");
  invite.mutable_invite()->set_codec("opus");
  invite.mutable_invite()->set_sample_rate(16000);
  invite.mutable_invite()->set_frame_ms(20);
  ASSERT_TRUE(stream->Write(invite));
  MediaMessage m;
  bool answered = false;
  while (!answered && stream->Read(&m)) answered = m.has_answer();
  ASSERT_TRUE(answered);

  auto tts = speech::EspeakTts::Create();
  ASSERT_TRUE(tts.ok()) << tts.status();
  std::vector<int16_t> pcm = *(*tts)->Synthesize("Hi, may I speak with Taylor, please?");
  auto sender = *media::AudioSender::Create(16000);
  auto due = std::chrono::steady_clock::now();
  for (size_t at = 0; at + 320 <= pcm.size(); at += 320) {
    std::this_thread::sleep_until(due);
    MediaMessage frame;
    *frame.mutable_audio() = *sender->Encode(std::span(pcm).subspan(at, 320));
    stream->Write(frame);
    due += std::chrono::milliseconds(20);
  }
  int callee_frames = 0;
  bool hung_up = false;
  while (!hung_up && stream->Read(&m)) {
    if (m.has_audio()) ++callee_frames;
    hung_up = m.has_hangup();
  }
  EXPECT_TRUE(hung_up);
  EXPECT_GT(callee_frames, 25);  // "Yes, speaking." is over half a second
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());

  // The recording is written as the call ends; then stop the phone.
  for (int i = 0; i < 50 && !fs::exists(wav); ++i) absl::SleepFor(absl::Milliseconds(100));
  phone.Signal(SIGTERM);
  EXPECT_EQ(phone.WaitExit(absl::Seconds(10)), 0);

  const std::string out = ReadAll(log);
  EXPECT_THAT(out, HasSubstr("listening on " + address + " as persona lead"));
  EXPECT_THAT(out, HasSubstr("ringing: call to +14155550100 (agent lead-qualifier)"));
  EXPECT_THAT(out, HasSubstr("answered"));
  EXPECT_THAT(out, HasSubstr("agent spoke "));
  EXPECT_THAT(out, HasSubstr("callee: Yes, speaking."));
  EXPECT_THAT(out, HasSubstr("hang-up by the callee"));
  EXPECT_THAT(out, HasSubstr("recorded to " + wav.string()));
  EXPECT_THAT(out, HasSubstr("stopped after 1 call(s)"));
  absl::StatusOr<audio::Wav> recording = audio::ReadWav(wav.string());
  ASSERT_TRUE(recording.ok()) << recording.status();
  EXPECT_EQ(recording->sample_rate, 16000);
  EXPECT_GT(recording->samples.size(), pcm.size());  // the agent's words and the reply
}

#ifdef PARLEY_HAVE_POCKETSPHINX
// With a keyed reply, the phone recognises the agent's turn (pocketsphinx) and picks the reply
// whose phrase it heard, out of list order.
TEST_F(PhoneTest, KeyedReplyFollowsWhatTheAgentSaid) {
  const fs::path persona = dir_ / "keyed.yaml";
  std::ofstream(persona) << "kind: persona\nname: keyed\nspec:\n  ring_ms: 0\n  pause_ms: 500\n"
                            "  replies:\n    - \"Yes, speaking.\"\n"
                            "    - {when: [start, three months], say: \"As soon as possible.\"}\n"
                            "  hangup: {after_s: 6}\n";
  const fs::path log = dir_ / "keyed.log";
  const std::string address = "127.0.0.1:" + std::to_string(testing::FreePort());
  testing::Subprocess phone({testing::BinaryPath("cli/parleyctl/parleyctl"), "phone", "--listen",
                             address, "--persona", persona.string()},
                            {}, log.string());
  for (int i = 0; i < 200 && ReadAll(log).find("listening on") == std::string::npos; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  auto stub = parley::v1::MediaEndpoint::NewStub(grpcx::MakeChannel({.address = address}));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream = stub->Call(&ctx);
  MediaMessage invite;
  invite.mutable_invite()->set_call_id("call-keyed");
  invite.mutable_invite()->set_sample_rate(16000);
  ASSERT_TRUE(stream->Write(invite));
  MediaMessage m;
  bool answered = false;
  while (!answered && stream->Read(&m)) answered = m.has_answer();
  ASSERT_TRUE(answered);
  auto tts = speech::EspeakTts::Create();
  ASSERT_TRUE(tts.ok()) << tts.status();
  std::vector<int16_t> pcm =
      *(*tts)->Synthesize("Are you hoping to start within the next three months?");
  auto sender = *media::AudioSender::Create(16000);
  auto due = std::chrono::steady_clock::now();
  for (size_t at = 0; at + 320 <= pcm.size(); at += 320) {
    std::this_thread::sleep_until(due);
    MediaMessage frame;
    *frame.mutable_audio() = *sender->Encode(std::span(pcm).subspan(at, 320));
    stream->Write(frame);
    due += std::chrono::milliseconds(20);
  }
  while (stream->Read(&m) && !m.has_hangup()) {
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  phone.Signal(SIGTERM);
  EXPECT_EQ(phone.WaitExit(absl::Seconds(10)), 0);
  const std::string out = ReadAll(log);
  EXPECT_THAT(out, HasSubstr("agent (recognised): "));
  EXPECT_THAT(out, HasSubstr("callee: As soon as possible.")) << out;
}
#endif

// --audio with files for the sound card: the callee's "microphone" is a raw file read faster
// than real time (sent paced, one frame per 20 ms tick), and the agent's audio lands in a file.
TEST_F(PhoneTest, AudioBridgesCommandsBothWays) {
  auto tts = speech::EspeakTts::Create();
  ASSERT_TRUE(tts.ok()) << tts.status();
  const std::vector<int16_t> callee_pcm = *(*tts)->Synthesize("Hello, this is Taylor speaking.");
  const fs::path mic = dir_ / "mic.raw";
  std::ofstream(mic, std::ios::binary)
      .write(reinterpret_cast<const char*>(callee_pcm.data()),
             static_cast<std::streamsize>(callee_pcm.size() * sizeof(int16_t)));
  const fs::path speaker = dir_ / "agent.raw";
  const fs::path log = dir_ / "audio.log";
  const std::string address = "127.0.0.1:" + std::to_string(testing::FreePort());
  testing::Subprocess phone({testing::BinaryPath("cli/parleyctl/parleyctl"), "phone", "--listen",
                             address, "--audio", "--audio-in-cmd", "cat '" + mic.string() + "'",
                             "--audio-out-cmd", "cat > '" + speaker.string() + "'"},
                            {}, log.string());
  for (int i = 0; i < 200 && ReadAll(log).find("listening on") == std::string::npos; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_THAT(ReadAll(log), HasSubstr("with the sound card"));
  auto stub = parley::v1::MediaEndpoint::NewStub(grpcx::MakeChannel({.address = address}));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream = stub->Call(&ctx);
  MediaMessage invite;
  invite.mutable_invite()->set_call_id("call-audio");
  invite.mutable_invite()->set_sample_rate(16000);
  ASSERT_TRUE(stream->Write(invite));
  MediaMessage m;
  bool answered = false;
  while (!answered && stream->Read(&m)) answered = m.has_answer();
  ASSERT_TRUE(answered);

  // The callee's audio, decoded, on a reader thread while the agent talks.
  std::vector<int16_t> heard;
  bool hung_up = false;
  std::thread reader([&] {
    auto receiver = *media::AudioReceiver::Create(16000);
    MediaMessage in;
    while (stream->Read(&in)) {
      if (in.has_hangup()) hung_up = true;
      if (!in.has_audio()) continue;
      for (const audio::PcmFrame& f : receiver->Receive(in.audio())) {
        heard.insert(heard.end(), f.samples.begin(), f.samples.end());
      }
    }
  });
  const std::vector<int16_t> agent_pcm =
      *(*tts)->Synthesize("Hi Taylor, I am calling about your appointment tomorrow.");
  auto sender = *media::AudioSender::Create(16000);
  auto due = std::chrono::steady_clock::now();
  for (size_t at = 0; at + 320 <= agent_pcm.size(); at += 320) {
    std::this_thread::sleep_until(due);
    MediaMessage frame;
    *frame.mutable_audio() = *sender->Encode(std::span(agent_pcm).subspan(at, 320));
    stream->Write(frame);
    due += std::chrono::milliseconds(20);
  }
  absl::SleepFor(absl::Milliseconds(500));  // the last of it is played out
  MediaMessage hangup;
  hangup.mutable_hangup()->set_reason(parley::v1::Hangup::REASON_NORMAL);
  stream->Write(hangup);
  stream->WritesDone();
  reader.join();
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_FALSE(hung_up);  // the agent hung up, not the callee
  phone.Signal(SIGTERM);
  EXPECT_EQ(phone.WaitExit(absl::Seconds(10)), 0);

  // The worker heard all of the callee's file, and it was speech.
  EXPECT_GE(heard.size(), callee_pcm.size() * 9 / 10);
  EXPECT_GT(*std::max_element(heard.begin(), heard.end()), 3000);
  // The speaker file holds the agent's words (and the silence around them) at 16 kHz.
  const std::string played = ReadAll(speaker);
  std::vector<int16_t> out(played.size() / 2);
  std::memcpy(out.data(), played.data(), out.size() * 2);
  EXPECT_GE(out.size(), agent_pcm.size() * 9 / 10);
  EXPECT_LE(out.size(), agent_pcm.size() + 16000 * 3);
  ASSERT_FALSE(out.empty());
  EXPECT_GT(*std::max_element(out.begin(), out.end()), 3000);
  size_t loud = 0;
  for (size_t at = 0; at + 320 <= out.size(); at += 320) {
    if (speech::FrameDbfs(std::span(out).subspan(at, 320)) > -40) ++loud;
  }
  EXPECT_GT(loud * 320, agent_pcm.size() / 3);  // speech, not a click
  const std::string text = ReadAll(log);
  EXPECT_THAT(text, HasSubstr("agent spoke "));
  EXPECT_THAT(text, HasSubstr("hang-up by the agent"));
}

// Without a sound card sox fails at once; the phone says so in one line instead of waiting.
TEST_F(PhoneTest, AudioCommandThatFailsIsAOneLineError) {
  std::ostringstream out, err;
  EXPECT_NE(cli::Run({"phone", "--audio", "--audio-in-cmd",
                      "echo 'rec FAIL formats: no default audio device' >&2; exit 2",
                      "--audio-out-cmd", "cat > /dev/null"},
                     out, err),
            0);
  EXPECT_THAT(err.str(), HasSubstr("failed: rec FAIL formats: no default audio device"));
  const std::string error = err.str();
  EXPECT_EQ(std::count(error.begin(), error.end(), '\n'), 1) << error;
  std::ostringstream help, help_err;
  EXPECT_EQ(cli::Run({"phone", "--help"}, help, help_err), 0);
  EXPECT_THAT(help.str(), HasSubstr("--audio"));
  EXPECT_THAT(help.str(), HasSubstr("--audio-in-cmd"));
}

TEST_F(PhoneTest, BadPersonaIsAOneLineErrorNamingTheField) {
  const fs::path persona = dir_ / "bad.yaml";
  std::ofstream(persona) << "kind: persona\nname: bad\nspec:\n  replies: [\"ok\", {say: \"\"}]\n";
  std::ostringstream out, err;
  EXPECT_EQ(cli::Run({"phone", "--persona", persona.string()}, out, err), 2);
  EXPECT_EQ(err.str(), "parleyctl: " + persona.string() + ": spec.replies[1].say: empty\n");
  std::ostringstream out2, err2;
  EXPECT_EQ(cli::Run({"phone"}, out2, err2), 2);
  EXPECT_THAT(err2.str(), HasSubstr("--persona FILE is required"));
}

}  // namespace
}  // namespace parley::cli
