#include "common/llm/chat_delta.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/llm/api_error.h"
#include "common/status/status.h"

namespace parley::llm {
namespace {

// The string at `key`, or "" when it is missing or not a string (servers send null freely).
std::string StringAt(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

}  // namespace

absl::StatusOr<std::string> ChatDeltaAccumulator::Apply(const nlohmann::json& chunk) {
  if (!chunk.is_object()) {
    return absl::UnavailableError(absl::StrCat(provider_, ": stream chunk is not an object"));
  }
  if (chunk.contains("error")) return StatusFromErrorObject(provider_, chunk);
  auto choices = chunk.find("choices");
  if (choices == chunk.end() || !choices->is_array() || choices->empty()) return std::string();
  // The pipeline asks for one choice (n=1); others, if any, are not its reply.
  for (const nlohmann::json& choice : *choices) {
    if (!choice.is_object()) continue;
    auto index = choice.find("index");
    if (index != choice.end() && index->is_number_integer() && index->get<int>() != 0) continue;
    return ApplyChoice(choice, "delta");
  }
  return std::string();
}

absl::StatusOr<std::string> ChatDeltaAccumulator::ApplyCompletion(
    const nlohmann::json& completion) {
  if (!completion.is_object()) {
    return absl::UnavailableError(absl::StrCat(provider_, ": response is not an object"));
  }
  if (completion.contains("error")) return StatusFromErrorObject(provider_, completion);
  auto choices = completion.find("choices");
  if (choices == completion.end() || !choices->is_array() || choices->empty() ||
      !(*choices)[0].is_object()) {
    return absl::UnavailableError(absl::StrCat(provider_, ": response has no choices"));
  }
  return ApplyChoice((*choices)[0], "message");
}

absl::StatusOr<std::string> ChatDeltaAccumulator::ApplyChoice(const nlohmann::json& choice,
                                                              const char* field) {
  std::string text;
  if (auto delta = choice.find(field); delta != choice.end() && delta->is_object()) {
    text = StringAt(*delta, "content");
    if (!text.empty()) started_ = true;
    text_ += text;
    if (auto calls = delta->find("tool_calls"); calls != delta->end() && calls->is_array()) {
      for (const nlohmann::json& entry : *calls) PARLEY_RETURN_IF_ERROR(ApplyToolCall(entry));
    }
  }
  if (std::string reason = StringAt(choice, "finish_reason"); !reason.empty()) {
    finish_reason_ = std::move(reason);
  }
  return text;
}

absl::Status ChatDeltaAccumulator::ApplyToolCall(const nlohmann::json& entry) {
  if (!entry.is_object()) {
    return absl::UnavailableError(absl::StrCat(provider_, ": tool call delta is not an object"));
  }
  started_ = true;
  std::string id = StringAt(entry, "id");
  int index;
  if (auto it = entry.find("index"); it != entry.end() && it->is_number_integer()) {
    index = it->get<int>();
  } else if (last_index_ < 0 || (!id.empty() && tool_calls_[last_index_].id != id)) {
    index = last_index_ + 1;  // no index: a new id starts the next call
  } else {
    index = last_index_;
  }
  last_index_ = index;
  PartialToolCall& call = tool_calls_[index];
  if (call.id.empty()) call.id = std::move(id);
  if (auto function = entry.find("function"); function != entry.end() && function->is_object()) {
    std::string name = StringAt(*function, "name");
    if (name != call.name) call.name += name;  // a repeated whole name is not doubled
    auto arguments = function->find("arguments");
    if (arguments != function->end()) {
      if (arguments->is_string()) {
        call.arguments += arguments->get<std::string>();
      } else if (arguments->is_object()) {
        call.arguments = arguments->dump();  // some servers send the object itself
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<speech::ChatResult> ChatDeltaAccumulator::Finish() && {
  speech::ChatResult result;
  result.text = std::move(text_);
  result.finish_reason = std::move(finish_reason_);
  for (auto& [index, call] : tool_calls_) {
    if (call.name.empty()) {
      return absl::UnavailableError(
          absl::StrCat(provider_, ": tool call ", index, " has no function name"));
    }
    speech::ToolCall& out = result.tool_calls.emplace_back();
    out.id = call.id.empty() ? absl::StrCat("call_", index) : std::move(call.id);
    out.name = std::move(call.name);
    out.arguments = call.arguments.empty() ? "{}" : std::move(call.arguments);
  }
  return result;
}

}  // namespace parley::llm
