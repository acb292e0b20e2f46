#include "common/providers/registry.h"

namespace parley::providers {
namespace {

std::vector<ProviderInfo> BuildRegistry() {
  using K = ProviderKind;
  // Default endpoints of LAN servers point at the local machine; compose and k8s set base_url.
  return {
      {K::kStt, "pocketsphinx", true, false, "",
       "embedded offline recogniser; grammar built from the graph's phrases"},
      {K::kStt, "whisperlive", false, false, "ws://localhost:9090",
       "self-hosted WhisperLive streaming server"},
      {K::kStt, "deepgram", false, true, "wss://api.deepgram.com/v1/listen",
       "Deepgram streaming speech-to-text"},
      {K::kStt, "assemblyai", false, true, "wss://streaming.assemblyai.com/v3/ws",
       "AssemblyAI streaming speech-to-text"},
      {K::kStt, "openai", false, true, "https://api.openai.com/v1",
       "OpenAI-compatible transcription endpoint"},

      {K::kTts, "espeak", true, false, "", "embedded espeak-ng synthesiser"},
      {K::kTts, "piper", false, false, "http://localhost:5000", "self-hosted Piper HTTP server"},
      {K::kTts, "deepgram", false, true, "https://api.deepgram.com/v1/speak",
       "Deepgram Aura text-to-speech"},
      {K::kTts, "elevenlabs", false, true, "https://api.elevenlabs.io/v1",
       "ElevenLabs streaming text-to-speech"},
      {K::kTts, "cartesia", false, true, "https://api.cartesia.ai",
       "Cartesia Sonic text-to-speech"},
      {K::kTts, "openai", false, true, "https://api.openai.com/v1",
       "OpenAI-compatible speech endpoint"},

      {K::kLlm, "scripted", true, false, "",
       "deterministic policy following the graph's scripted lines and intents"},
      {K::kLlm, "openai", false, true, "https://api.openai.com/v1",
       "any OpenAI-compatible chat completions endpoint (OpenAI, vLLM, llama.cpp server)"},
      {K::kLlm, "ollama", false, false, "http://localhost:11434",
       "self-hosted Ollama (native /api/chat streaming with tools)"},
      {K::kLlm, "groq", false, true, "https://api.groq.com/openai/v1",
       "Groq (OpenAI-compatible API)"},
      {K::kLlm, "cerebras", false, true, "https://api.cerebras.ai/v1",
       "Cerebras (OpenAI-compatible API)"},
  };
}

}  // namespace

const std::vector<ProviderInfo>& KnownProviders() {
  static const std::vector<ProviderInfo>* const registry =
      new std::vector<ProviderInfo>(BuildRegistry());
  return *registry;
}

const ProviderInfo* FindProvider(ProviderKind kind, std::string_view name) {
  for (const ProviderInfo& p : KnownProviders()) {
    if (p.kind == kind && p.name == name) return &p;
  }
  return nullptr;
}

std::string KnownProviderNames(ProviderKind kind) {
  std::string names;
  for (const ProviderInfo& p : KnownProviders()) {
    if (p.kind != kind) continue;
    if (!names.empty()) names += ", ";
    names += p.name;
  }
  return names;
}

std::string_view KindName(ProviderKind kind) {
  switch (kind) {
    case ProviderKind::kStt:
      return "stt";
    case ProviderKind::kTts:
      return "tts";
    case ProviderKind::kLlm:
      return "llm";
  }
  return "unknown";
}

}  // namespace parley::providers
