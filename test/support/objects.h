// Objects the API tests create, as a user's manifest would have them.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace tug::testing {

// A Deployment `name` of `replicas` pods labeled app=<name>, each one container running
// /bin/web from image web:1.
inline nlohmann::json Deployment(const std::string& name, int replicas) {
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", name}, {"labels", {{"app", name}}}}},
          {"spec",
           {{"replicas", replicas},
            {"selector", {{"matchLabels", {{"app", name}}}}},
            {"template",
             {{"metadata", {{"labels", {{"app", name}}}}},
              {"spec",
               {{"containers",
                 {{{"name", "main"}, {"image", "web:1"}, {"command", {"/bin/web"}}}}}}}}}}}};
}

}  // namespace tug::testing
