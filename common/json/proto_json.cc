#include "common/json/proto_json.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>

#include <cctype>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status/status.h"

namespace parley::json {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

// protobuf 3.21's JSON parser reports errors as text (json_util.cc, StatusErrorListener):
//   "(llm) temprature: Cannot find field."                  unknown field `temprature` in `llm`
//   "descriptionx: Cannot find field."                      the same at the top level
//   "(llm.temperature): invalid value \"abc\" for type TYPE_DOUBLE"
//   "(llm): invalid value Starting an object on a scalar field for type temperature"
//   "(tools[0].http): invalid value Cannot bind a list to map for field 'headers'. for type Map"
//   "(nodes[1].transitions[1]) set_state: Proto field is not repeating, cannot start list."
//   "(tools[0].http.headers[1].value) : Proto fields must have a name."   a list as a map value
// The parenthesised location has two quirks this file undoes:
//   - an element of a repeated field nested in an element of the same field (LlmConfig.fallbacks
//     inside LlmConfig.fallbacks) loses its name: "llm.fallbacks[0][1]" means
//     "llm.fallbacks[0].fallbacks[1]" (proto has no lists of lists, so `][` only arises this way);
//   - map entries are numbered in the order parsed, then ".value": "headers[1].value". The spec
//     was printed by nlohmann (keys sorted), so entry i is the object's i-th key.

// One step of a field path: a field name, a list index or a map key.
struct Step {
  enum Kind { kName, kIndex, kKey } kind;
  std::string text;  // name or key
  size_t index = 0;
};

bool IsIdentifier(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

// Splits protobuf's location ("a.b[0][1].c", or with ["quoted"] names) into steps.
std::optional<std::vector<Step>> Tokenize(std::string_view loc) {
  std::vector<Step> steps;
  size_t i = 0;
  while (i < loc.size()) {
    if (loc[i] == '.') {
      ++i;
      continue;
    }
    if (loc[i] == '[') {
      const size_t close = loc.find(']', i);
      if (close == std::string_view::npos) return std::nullopt;
      std::string_view inner = loc.substr(i + 1, close - i - 1);
      if (inner.size() >= 2 && inner.front() == '"' && inner.back() == '"') {
        steps.push_back({Step::kName, std::string(inner.substr(1, inner.size() - 2))});
      } else {
        size_t index = 0;
        if (inner.empty()) return std::nullopt;
        for (char c : inner) {
          if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
          index = index * 10 + static_cast<size_t>(c - '0');
        }
        steps.push_back({Step::kIndex, "", index});
      }
      i = close + 1;
      continue;
    }
    size_t end = i;
    while (end < loc.size() && loc[end] != '.' && loc[end] != '[') ++end;
    steps.push_back({Step::kName, std::string(loc.substr(i, end - i))});
    i = end;
  }
  return steps;
}

// Undoes the two location quirks (see the top of this file), following the steps through `spec`.
std::vector<Step> Repair(const std::vector<Step>& steps, const nlohmann::json& spec) {
  std::vector<Step> out;
  const nlohmann::json* node = &spec;
  std::string last_name;
  bool previous_was_index = false;
  bool after_map_key = false;
  auto enter = [&node](const std::string& name) {
    if (node != nullptr && node->is_object()) {
      auto it = node->find(name);
      node = it == node->end() ? nullptr : &*it;
    } else {
      node = nullptr;
    }
  };
  for (const Step& step : steps) {
    if (step.kind == Step::kName) {
      previous_was_index = false;
      if (after_map_key && (step.text == "value" || step.text == "key")) {
        after_map_key = false;
        continue;  // the map entry's synthetic fields; the key already names the entry
      }
      after_map_key = false;
      out.push_back(step);
      last_name = step.text;
      enter(step.text);
      continue;
    }
    if (previous_was_index && !last_name.empty()) {
      out.push_back({Step::kName, last_name});
      enter(last_name);
    }
    previous_was_index = true;
    if (node != nullptr && node->is_object() && step.index < node->size()) {
      auto it = node->begin();
      std::advance(it, static_cast<std::ptrdiff_t>(step.index));
      out.push_back({Step::kKey, it.key()});
      node = &it.value();
      after_map_key = true;
      previous_was_index = false;  // a map key is not a list index: no name was elided
      continue;
    }
    out.push_back(step);
    node = (node != nullptr && node->is_array() && step.index < node->size()) ? &(*node)[step.index]
                                                                              : nullptr;
  }
  return out;
}

std::string Render(std::string_view prefix, const std::vector<Step>& steps) {
  std::string path(prefix);
  for (const Step& step : steps) {
    switch (step.kind) {
      case Step::kName:
        if (!path.empty()) path += '.';
        path += step.text;
        break;
      case Step::kIndex:
        absl::StrAppend(&path, "[", step.index, "]");
        break;
      case Step::kKey:
        if (IsIdentifier(step.text)) {
          if (!path.empty()) path += '.';
          path += step.text;
        } else {
          nlohmann::json quoted = step.text;
          absl::StrAppend(&path, "[",
                          quoted.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                          "]");
        }
        break;
    }
  }
  return path;
}

// The field the steps end at, and whether they end at one element of it (an index or a map key)
// rather than at the whole field. nullopt when the steps do not follow the message's fields.
struct Target {
  const FieldDescriptor* field;
  bool element;
};

std::optional<Target> Resolve(const Descriptor* root, const std::vector<Step>& steps) {
  const Descriptor* message = root;
  const FieldDescriptor* field = nullptr;
  bool element = false;
  for (const Step& step : steps) {
    if (step.kind == Step::kName) {
      if (field != nullptr) {
        if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) return std::nullopt;
        message = field->message_type();
      }
      if (message == nullptr) return std::nullopt;
      field = message->FindFieldByName(step.text);
      if (field == nullptr) field = message->FindFieldByCamelcaseName(step.text);
      if (field == nullptr) return std::nullopt;
      element = false;
      continue;
    }
    if (field == nullptr || !field->is_repeated() || element) return std::nullopt;
    if (field->is_map()) {
      field = field->message_type()->FindFieldByName("value");
      if (field == nullptr) return std::nullopt;
      element = false;  // the map's value field itself, which is not repeated
    } else {
      element = true;
    }
  }
  if (field == nullptr) return std::nullopt;
  return Target{field, element};
}

// What a field accepts, for "expected …" ("a number", "a list", "an object").
std::string Expected(const Target& target) {
  const FieldDescriptor* field = target.field;
  if (field->is_map()) return "an object";
  if (field->is_repeated() && !target.element) return "a list";
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT:
      return "a number";
    case FieldDescriptor::CPPTYPE_INT32:
      return "a 32-bit integer";
    case FieldDescriptor::CPPTYPE_INT64:
      return "an integer";
    case FieldDescriptor::CPPTYPE_UINT32:
      return "a non-negative 32-bit integer";
    case FieldDescriptor::CPPTYPE_UINT64:
      return "a non-negative integer";
    case FieldDescriptor::CPPTYPE_BOOL:
      return "true or false";
    case FieldDescriptor::CPPTYPE_STRING:
      return field->type() == FieldDescriptor::TYPE_BYTES ? "a base64 string" : "a string";
    case FieldDescriptor::CPPTYPE_ENUM: {
      std::vector<std::string> names;
      for (int i = 0; i < field->enum_type()->value_count(); ++i) {
        names.push_back(field->enum_type()->value(i)->name());
      }
      return absl::StrCat("one of ", absl::StrJoin(names, ", "));
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const std::string& name = field->message_type()->full_name();
      if (name == "google.protobuf.ListValue") return "a list";
      if (name == "google.protobuf.Value") return "a JSON value";
      if (name == "google.protobuf.Timestamp") return "an RFC 3339 timestamp string";
      if (name == "google.protobuf.Duration") return "a duration string such as \"1.5s\"";
      return "an object";
    }
  }
  return "a different type";
}

// protobuf's rendering of the offending value ("\"abc\"", "1.5", "true"), shortened.
std::string Shorten(std::string_view value) {
  constexpr size_t kMax = 40;
  if (value.size() <= kMax) return std::string(value);
  size_t cut = kMax;
  while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80) --cut;  // UTF-8
  return absl::StrCat(AbslView(value.substr(0, cut)), "…");
}

std::string_view DropPrefix(std::string_view s, std::string_view prefix) {
  if (s.substr(0, prefix.size()) == prefix) s.remove_prefix(prefix.size());
  return s;
}

std::string StripPeriod(std::string_view s) {
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  return std::string(s);
}

absl::Status Translate(std::string_view message, std::string_view path, const nlohmann::json& spec,
                       const Descriptor* root) {
  // The parser's own JSON syntax errors span several lines; our input is always valid JSON, so
  // anything not in the listener's format is reported as is, first line only.
  message = message.substr(0, message.find('\n'));

  std::string_view loc;
  std::string_view rest = message;
  if (!rest.empty() && rest.front() == '(') {
    const size_t close = rest.find(')');
    if (close == std::string_view::npos) return InvalidField(path, StripPeriod(message));
    loc = rest.substr(1, close - 1);
    rest = rest.substr(close + 1);
  }
  std::optional<std::vector<Step>> tokens = Tokenize(loc);
  if (!tokens) return InvalidField(path, StripPeriod(message));
  std::vector<Step> steps = Repair(*tokens, spec);

  // Describes the field at `steps` plus an optional trailing field name.
  auto field_error = [&](std::vector<Step> at, std::string_view name,
                         const std::function<std::string(const std::optional<Target>&)>& reason) {
    if (!name.empty() && (at.empty() || at.back().kind != Step::kName || at.back().text != name)) {
      at.push_back({Step::kName, std::string(name)});
    }
    return InvalidField(Render(path, at), reason(Resolve(root, at)));
  };
  auto expected_got = [](std::string got) {
    return [got](const std::optional<Target>& target) {
      return target ? absl::StrCat("expected ", Expected(*target), ", got ", got)
                    : absl::StrCat("invalid value ", got);
    };
  };

  constexpr std::string_view kInvalidValue = ": invalid value ";
  constexpr std::string_view kForType = " for type ";
  constexpr std::string_view kMissingField = ": missing field ";
  constexpr std::string_view kUnknownField = ": Cannot find field.";
  constexpr std::string_view kNotRepeated = ": Proto field is not repeating, cannot start list.";

  if (rest.substr(0, kInvalidValue.size()) == kInvalidValue) {
    // "invalid value <value> for type <type>"; <value> is sometimes a sentence instead.
    std::string_view body = rest.substr(kInvalidValue.size());
    const size_t for_type = body.rfind(kForType);
    if (for_type == std::string_view::npos) {
      return InvalidField(Render(path, steps), StripPeriod(body));
    }
    const std::string_view value = body.substr(0, for_type);
    const std::string_view type = body.substr(for_type + kForType.size());
    if (constexpr std::string_view kObjectOnScalar = "Starting an object on a scalar field";
        value.substr(0, kObjectOnScalar.size()) == kObjectOnScalar) {
      // <type> is the field's name. For a repeated field the offending element's index is lost;
      // say what each element must be.
      return field_error(steps, type, [](std::optional<Target> target) {
        if (target && target->field->is_repeated() && !target->field->is_map()) {
          target->element = true;
        }
        return target ? absl::StrCat("expected ", Expected(*target), ", got an object")
                      : std::string("expected a scalar value, got an object");
      });
    }
    if (constexpr std::string_view kListToMap = "Cannot bind a list to map for field '";
        value.substr(0, kListToMap.size()) == kListToMap) {
      std::string_view name = value.substr(kListToMap.size());
      name = name.substr(0, name.find('\''));
      return field_error(steps, name, expected_got("a list"));
    }
    if (constexpr std::string_view kListInMap = "Cannot have repeated items ('";
        value.substr(0, kListInMap.size()) == kListInMap) {
      return field_error(steps, "", expected_got("a list"));  // a list as a map value
    }
    return field_error(steps, "", expected_got(Shorten(value)));
  }
  if (rest.substr(0, kMissingField.size()) == kMissingField) {
    return field_error(steps, rest.substr(kMissingField.size()),
                       [](const std::optional<Target>&) { return std::string("required"); });
  }

  // "<name>: <message>" after a space (with a location) or at the start (without one).
  std::string_view named = rest;
  if (!loc.empty()) {
    if (named.empty() || named.front() != ' ') {
      return InvalidField(Render(path, steps), StripPeriod(DropPrefix(rest, ": ")));
    }
    named.remove_prefix(1);
  }
  if (constexpr std::string_view kUnnamed = ": Proto fields must have a name";
      named.substr(0, kUnnamed.size()) == kUnnamed) {
    return field_error(steps, "", expected_got("a list"));  // a non-empty list as a map value
  }
  auto ends_with = [&named](std::string_view suffix) {
    return named.size() > suffix.size() && named.substr(named.size() - suffix.size()) == suffix;
  };
  if (ends_with(kUnknownField)) {
    return field_error(steps, named.substr(0, named.size() - kUnknownField.size()),
                       [](const std::optional<Target>&) { return std::string("unknown field"); });
  }
  if (ends_with(kNotRepeated)) {
    return field_error(steps, named.substr(0, named.size() - kNotRepeated.size()),
                       expected_got("a list"));
  }
  if (const size_t colon = named.find(": "); colon != std::string_view::npos && colon > 0) {
    const std::string reason = StripPeriod(named.substr(colon + 2));
    return field_error(steps, named.substr(0, colon),
                       [&reason](const std::optional<Target>&) { return reason; });
  }
  return InvalidField(Render(path, steps), StripPeriod(DropPrefix(named, ": ")));
}

}  // namespace

absl::Status ParseSpec(const nlohmann::json& spec, std::string_view path,
                       google::protobuf::Message* out) {
  out->Clear();
  if (!spec.is_object()) return InvalidField(path, "must be a JSON object");
  const std::string text = spec.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(text, out, options);
  if (status.ok()) return absl::OkStatus();
  out->Clear();
  return Translate(std::string_view(status.message().data(), status.message().size()), path, spec,
                   out->GetDescriptor());
}

nlohmann::json MessageToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string text;
  if (!google::protobuf::util::MessageToJsonString(message, &text, options).ok()) return nullptr;
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return nullptr;
  return parsed;
}

}  // namespace parley::json
