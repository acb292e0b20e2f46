#include "common/speech/scripted_policy.h"

#include <algorithm>
#include <cctype>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/speech/words.h"

namespace parley::speech {
namespace {

bool IsVariableName(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s.front()))) return false;
  bool segment_empty = true;
  for (char c : s) {
    if (c == '.') {
      if (segment_empty) return false;
      segment_empty = true;
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') {
      segment_empty = false;
    } else {
      return false;
    }
  }
  return !segment_empty;
}

// The value at dotted `path` in `root`, or nullptr.
const nlohmann::json* Lookup(const nlohmann::json& root, std::string_view path) {
  const nlohmann::json* node = &root;
  while (node != nullptr) {
    const size_t dot = path.find('.');
    const std::string key(path.substr(0, dot));
    if (node->is_object()) {
      auto it = node->find(key);
      node = it == node->end() ? nullptr : &*it;
    } else if (node->is_array() && !key.empty() &&
               std::all_of(key.begin(), key.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
               key.size() < 10 && std::stoul(key) < node->size()) {
      node = &(*node)[std::stoul(key)];
    } else {
      node = nullptr;
    }
    if (dot == std::string_view::npos) break;
    path.remove_prefix(dot + 1);
  }
  return node != nullptr && !node->is_null() ? node : nullptr;
}

std::string Spoken(const nlohmann::json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

}  // namespace

std::optional<std::string> MatchIntent(std::string_view utterance,
                                       std::span<const IntentPhrases> intents) {
  for (const IntentPhrases& intent : intents) {
    for (const std::string& phrase : intent.phrases) {
      if (ContainsPhrase(utterance, phrase)) return intent.name;
    }
  }
  return std::nullopt;
}

absl::StatusOr<FilledText> FillVariables(std::string_view text,
                                         std::span<const nlohmann::json* const> sources) {
  FilledText out;
  out.text.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool doubled = i + 1 < text.size() && text[i + 1] == c;
    if (c == '}') {
      if (!doubled) {
        return absl::InvalidArgumentError(
            absl::StrCat("unmatched '}' at column ", i + 1, " (use }} for a literal brace)"));
      }
      out.text.push_back('}');
      ++i;
    } else if (c == '{' && doubled) {
      out.text.push_back('{');
      ++i;
    } else if (c == '{') {
      const size_t close = text.find('}', i + 1);
      if (close == std::string_view::npos) {
        return absl::InvalidArgumentError(absl::StrCat("unmatched '{' at column ", i + 1));
      }
      const std::string_view name = text.substr(i + 1, close - i - 1);
      if (!IsVariableName(name)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "invalid variable {", absl::string_view(name.data(), name.size()), "} at column ",
            i + 1, " (use letters, digits, '_' and '.'; {{ for a literal brace)"));
      }
      const nlohmann::json* value = nullptr;
      for (const nlohmann::json* source : sources) {
        if (source != nullptr && (value = Lookup(*source, name)) != nullptr) break;
      }
      if (value != nullptr) {
        out.text += Spoken(*value);
      } else if (std::find(out.missing.begin(), out.missing.end(), name) == out.missing.end()) {
        out.missing.emplace_back(name);
      }
      i = close;
    } else {
      out.text.push_back(c);
    }
  }
  return out;
}

absl::StatusOr<FilledText> FillVariables(std::string_view text,
                                         std::initializer_list<const nlohmann::json*> sources) {
  return FillVariables(text,
                       std::span<const nlohmann::json* const>(sources.begin(), sources.size()));
}

}  // namespace parley::speech
