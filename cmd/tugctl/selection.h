// What a user names on the command line, as kubectl reads it: "TYPE [NAME...]",
// "TYPE1,TYPE2" (collections of several kinds) or "TYPE/NAME..." (objects of any kinds).
#pragma once

#include <string>
#include <vector>

#include "api/resource.h"
#include "base/status.h"

namespace tug::ctl {

struct Selection {
  const api::ResourceInfo* resource = nullptr;
  std::vector<std::string> names;  // empty: the whole collection
};

// Errors: no type given, an unknown type ("the server doesn't have a resource type ..."),
// names after several types, a mix of TYPE/NAME and plain words.
Result<std::vector<Selection>> ParseSelection(const std::vector<std::string>& args);

// A name that can go into a URL path: not empty, and without '/', '?', '#', '%' or spaces
// (the server checks the rest).
Status CheckName(const std::string& name);

// Looks one type up: "deploy", "pods", "deployments.apps", "Node".
Result<const api::ResourceInfo*> ResolveType(const std::string& typed);

}  // namespace tug::ctl
