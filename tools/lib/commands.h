// The nwq subcommands. Each takes the arguments after its name and returns the exit code;
// errors are thrown as nwq::Error and reported by main.
#pragma once
#include <string>
#include <vector>

namespace nwq {

int cmd_train(const std::vector<std::string>& args);
int cmd_eval(const std::vector<std::string>& args);
int cmd_info(const std::vector<std::string>& args);
int cmd_quantize(const std::vector<std::string>& args);
int cmd_plot(const std::vector<std::string>& args);
int cmd_data(const std::vector<std::string>& args);

}  // namespace nwq
