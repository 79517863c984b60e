using System.CommandLine;
using RsMoe.Benchmarks;
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
        CaptionBatchCommand.Create(),
        SceneCommand.Create(),
        SceneCommand.Sample(),
        UpCommand.Create(),
        GatewayCommands.Reload(),
        GatewayCommands.Keys(),
        LoadCommand.Create(),
    };

    /// <summary>On Ctrl-C or SIGTERM a command's token is cancelled and it gets this long to clean up (rsmoe up stops its services).</summary>
    public static int Run(string[] args) =>
        Build().Parse(args).Invoke(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(30) });
}
