// The nwq subcommands. Each takes the arguments after its name and returns the exit code;
// errors are thrown as nwq::Error and reported by main.
#pragma once
#include <string>
#include <vector>

#include "tools/lib/args.h"

namespace nwq {

int cmd_train(const std::vector<std::string>& args);
int cmd_eval(const std::vector<std::string>& args);
int cmd_info(const std::vector<std::string>& args);
int cmd_quantize(const std::vector<std::string>& args);
int cmd_plot(const std::vector<std::string>& args);
int cmd_data(const std::vector<std::string>& args);
int cmd_convert(const std::vector<std::string>& args);
int cmd_export(const std::vector<std::string>& args);

// The flags of train, eval, quantize and data as each command declares them (its --help lists
// them in this order); the commands parse with these, and tests compare the shared ones.
ArgParser train_flags();
ArgParser eval_flags();
ArgParser quantize_flags();
ArgParser data_flags();
ArgParser convert_flags();
ArgParser export_flags();

}  // namespace nwq
