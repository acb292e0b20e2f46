// The per-provider circuit breaker on its own, and inside the registry's fallback chains: after
// repeated failures across calls the provider is skipped (the fallback event says the circuit is
// open), later one probe call goes through, and a successful probe closes the circuit.
#include "services/worker/voice/circuit_breaker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>

#include "common/json/struct_convert.h"
#include "services/worker/voice/provider_registry.h"

namespace parley::worker {
namespace {

using ::testing::HasSubstr;

struct FakeClock {
  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  std::function<absl::Time()> Fn() {
    return [this] { return now; };
  }
};

TEST(CircuitBreakerTest, OpensAfterConsecutiveFailuresThenProbesOnce) {
  FakeClock clock;
  CircuitBreakers breakers(
      {.failures_to_open = 3, .open_for = absl::Seconds(30), .now = clock.Fn()});
  CircuitBreaker* b = breakers.For("tts/x/");
  const absl::Status down = absl::UnavailableError("connection refused");
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(b->Allow(nullptr));
    b->Record(down);
  }
  ASSERT_TRUE(b->Allow(nullptr));
  b->Record(absl::OkStatus());  // a success resets the count
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(b->Allow(nullptr));
    b->Record(down);
  }
  std::string why;
  EXPECT_FALSE(b->Allow(&why));
  EXPECT_EQ(b->state(), CircuitBreaker::State::kOpen);
  EXPECT_THAT(why, HasSubstr("3 consecutive failures"));
  EXPECT_THAT(why, HasSubstr("connection refused"));
  EXPECT_THAT(why, HasSubstr("next probe in 30s"));

  clock.now += absl::Seconds(31);
  EXPECT_EQ(b->state(), CircuitBreaker::State::kHalfOpen);
  EXPECT_TRUE(b->Allow(nullptr));  // the probe
  EXPECT_FALSE(b->Allow(&why));    // only one at a time
  EXPECT_THAT(why, HasSubstr("probe is in flight"));
  b->Record(down);  // a failed probe opens it again at once
  EXPECT_FALSE(b->Allow(nullptr));
  clock.now += absl::Seconds(31);
  EXPECT_TRUE(b->Allow(nullptr));
  b->Record(absl::OkStatus());
  EXPECT_EQ(b->state(), CircuitBreaker::State::kClosed);
  EXPECT_TRUE(b->Allow(nullptr));
  EXPECT_TRUE(b->Allow(nullptr));
}

TEST(CircuitBreakerTest, CancelledCallsDoNotCount) {
  CircuitBreakers breakers({.failures_to_open = 1});
  CircuitBreaker* b = breakers.For("k");
  ASSERT_TRUE(b->Allow(nullptr));
  b->Record(absl::CancelledError("barge-in"));
  EXPECT_EQ(b->state(), CircuitBreaker::State::kClosed);
}

class CountingTts final : public speech::TextToSpeech {
 public:
  absl::Status Synthesize(std::string_view, absl::FunctionRef<void(std::span<const int16_t>)> out,
                          const speech::CancelFlag*) override {
    ++calls;
    if (failing) return absl::UnavailableError("HTTP 503: overloaded");
    std::vector<int16_t> pcm(160, 1);
    out(pcm);
    return absl::OkStatus();
  }
  std::atomic<int> calls{0};
  std::atomic<bool> failing{false};
};

TEST(CircuitBreakerTest, RegistryChainSkipsAnOpenProviderAndSaysWhy) {
  FakeClock clock;
  ProviderRegistry registry(
      {.failures_to_open = 2, .open_for = absl::Seconds(30), .now = clock.Fn()});
  auto primary = std::make_shared<CountingTts>();
  auto backup = std::make_shared<CountingTts>();
  primary->failing = true;
  registry.AddTts("primary", [primary](const auto&, const auto&) {
    return absl::StatusOr<std::shared_ptr<speech::TextToSpeech>>(primary);
  });
  registry.AddTts("backup", [backup](const auto&, const auto&) {
    return absl::StatusOr<std::shared_ptr<speech::TextToSpeech>>(backup);
  });
  registry.AddStt("none", [](const auto&, const auto&) {
    return absl::StatusOr<std::shared_ptr<speech::SpeechToText>>(nullptr);
  });
  registry.AddLlm("none", [](const auto&, const auto&) {
    return absl::StatusOr<std::shared_ptr<speech::LanguageModel>>(nullptr);
  });
  parley::v1::TemplateSpec spec;
  spec.mutable_stt()->set_provider("none");
  spec.mutable_llm()->set_provider("none");
  spec.mutable_tts()->set_provider("primary");
  spec.mutable_tts()->add_fallbacks()->set_provider("backup");

  // One call: builds its providers and speaks once; returns the fallbacks it saw.
  auto call = [&] {
    std::vector<Fallback> seen;
    auto providers = registry.Build(spec, {}, [&](const Fallback& f) { seen.push_back(f); });
    EXPECT_TRUE(providers.ok()) << providers.status();
    EXPECT_TRUE(providers->tts
                    ->Synthesize(
                        "Hi.", [](std::span<const int16_t>) {}, nullptr)
                    .ok());
    return seen;
  };

  // Two calls find the primary failing: each falls back for that error.
  for (int i = 0; i < 2; ++i) {
    std::vector<Fallback> seen = call();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].reason, "error");
    EXPECT_THAT(seen[0].error, HasSubstr("overloaded"));
  }
  EXPECT_EQ(primary->calls, 2);

  // Now the circuit is open: the next call goes straight to the backup, and its event says why.
  std::vector<Fallback> seen = call();
  EXPECT_EQ(primary->calls, 2);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].from, "primary");
  EXPECT_EQ(seen[0].to, "backup");
  EXPECT_EQ(seen[0].reason, "circuit_open");
  EXPECT_THAT(seen[0].error, HasSubstr("circuit open after 2 consecutive failures"));
  EXPECT_EQ(backup->calls, 3);

  // Later, one probe reaches the primary; it has recovered, so the circuit closes.
  primary->failing = false;
  clock.now += absl::Seconds(31);
  EXPECT_TRUE(call().empty());
  EXPECT_EQ(primary->calls, 3);
  EXPECT_TRUE(call().empty());
  EXPECT_EQ(primary->calls, 4);
  EXPECT_EQ(backup->calls, 3);
}

TEST(CircuitBreakerTest, LastProviderOfAChainIsTriedEvenWhenOpen) {
  ProviderRegistry registry({.failures_to_open = 1});
  auto only = std::make_shared<CountingTts>();
  only->failing = true;
  registry.AddTts("only", [only](const auto&, const auto&) {
    return absl::StatusOr<std::shared_ptr<speech::TextToSpeech>>(only);
  });
  registry.AddStt("none", [](const auto&, const auto&) {
    return absl::StatusOr<std::shared_ptr<speech::SpeechToText>>(nullptr);
  });
  registry.AddLlm("none", [](const auto&, const auto&) {
    return absl::StatusOr<std::shared_ptr<speech::LanguageModel>>(nullptr);
  });
  parley::v1::TemplateSpec spec;
  spec.mutable_stt()->set_provider("none");
  spec.mutable_llm()->set_provider("none");
  spec.mutable_tts()->set_provider("only");
  auto providers = registry.Build(spec, {}, nullptr);
  ASSERT_TRUE(providers.ok());
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(providers->tts
                     ->Synthesize(
                         "Hi.", [](std::span<const int16_t>) {}, nullptr)
                     .ok());
  }
  EXPECT_EQ(only->calls, 3);
}

}  // namespace
}  // namespace parley::worker
