// The building blocks of validation shared by every kind: field errors in Kubernetes' words
// ("spec.replicas: Invalid value: -1: must be greater than or equal to 0"), the verdict that
// joins them into one message, labels and quantities, and object metadata.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/quantity.h"
#include "base/status.h"

namespace tug::api {

// A field's value as a message shows it: strings bare, anything else as JSON.
std::string ShowValue(const nlohmann::json& v);

void RequiredError(const std::string& path, std::vector<std::string>* errors);
void InvalidError(const std::string& path, const nlohmann::json& value, const std::string& why,
                  std::vector<std::string>* errors);

// `obj[field]` if it is a string, else "".
std::string StringField(const nlohmann::json& obj, const char* field);

// A quantity (a JSON string or number); invalid or negative ones are reported.
Quantity ReadQuantity(const nlohmann::json& v, const std::string& path,
                      std::vector<std::string>* errors);

// A map of label keys to label values (also used for node selectors).
void CheckLabels(const nlohmann::json& labels, const std::string& path,
                 std::vector<std::string>* errors);

// Ok, or Status::Invalid: `<Kind> "<name>" is invalid: <error>` (several errors in [...]).
Status Verdict(const std::string& kind, const std::string& name,
               const std::vector<std::string>& errors);

// Whether `s` is a DNS-1123 label: at most 63 characters of [a-z0-9-], starting and ending
// alphanumeric.
bool IsDns1123Label(const std::string& s);
// A DNS-1123 subdomain: dot-separated labels, at most 253 characters (node names).
bool IsDns1123Subdomain(const std::string& s);

// metadata: an object with a name (a DNS-1123 label, or a subdomain when `subdomain_names`),
// labels and annotations maps; for a namespaced kind the namespace defaults to "default",
// for a cluster-scoped one it is removed.
void PrepareMetadata(nlohmann::json& obj, bool namespaced, bool subdomain_names,
                     std::vector<std::string>* errors);

// Sets apiVersion and kind when absent, reports them when they are not `api_version`/`kind`;
// a `spec` or `status` that is there must be an object.
void CheckTypeMeta(nlohmann::json& obj, const std::string& api_version, const std::string& kind,
                   std::vector<std::string>* errors);

}  // namespace tug::api
