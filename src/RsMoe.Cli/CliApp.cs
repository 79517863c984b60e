using System.CommandLine;
using RsMoe.Cli.Commands;

namespace RsMoe.Cli;

/// <summary>The <c>rsmoe</c> command tree; Program only hands it the arguments, tests call it directly.</summary>
public static class CliApp
{
    public static RootCommand Build() => new("rsmoe: RS-MoE remote-sensing captioning and question answering")
    {
        LmCommands.Create(),
        BenchCommands.Create(),
        EvalCommands.Create(),
        DataCommands.Create(),
        SynthCommand.Create(),
        TrainCommand.Create(),
        AblateCommand.Create(),
        LocalInferenceCommands.Caption(),
        LocalInferenceCommands.Ask(),
        UpCommand.Create(),
    };

    public static int Run(string[] args) => Build().Parse(args).Invoke();
}
