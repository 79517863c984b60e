using System.CommandLine;
using RsMoe.Cli.Commands;

var root = new RootCommand("rsmoe: RS-MoE remote-sensing captioning and question answering")
{
    LmCommands.Create(),
    BenchCommands.Create(),
};
return root.Parse(args).Invoke();
