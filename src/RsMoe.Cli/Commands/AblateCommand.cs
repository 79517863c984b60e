using System.CommandLine;
using RsMoe.Training;

namespace RsMoe.Cli.Commands;

/// <summary><c>rsmoe ablate</c>: the paper's ablations at small scale, written as a table.</summary>
public static class AblateCommand
{
    public static Command Create()
    {
        var data = new Option<DirectoryInfo>("--data") { Required = true, Description = "Synthetic benchmark folder" };
        var output = new Option<DirectoryInfo>("--out") { Required = true, Description = "Runs go here, with ablations.md and ablations.json" };
        var testImages = new Option<int>("--test-images") { DefaultValueFactory = _ => 60 };
        var command = new Command("ablate", "Number of experts 1-4 and one- against two-stage training, scored on the test split") { data, output, testImages };
        command.SetAction(parse =>
        {
            Directory.CreateDirectory(parse.GetValue(output)!.FullName);
            AblationRunner.Run(parse.GetValue(data)!.FullName, parse.GetValue(output)!.FullName, parse.GetValue(testImages), Console.Error.WriteLine);
            Console.WriteLine(File.ReadAllText(Path.Combine(parse.GetValue(output)!.FullName, "ablations.md")));
            return 0;
        });
        return command;
    }
}
