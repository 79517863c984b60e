using System.CommandLine;
using RsMoe.Data.Synthetic;

namespace RsMoe.Cli.Commands;

/// <summary><c>rsmoe synth</c>: generate the synthetic scene benchmark.</summary>
public static class SynthCommand
{
    public static Command Create()
    {
        var output = new Option<DirectoryInfo>("--out") { Required = true, Description = "Folder for images/, captions.json, vqa.json, scenes.json" };
        var count = new Option<int>("--count") { DefaultValueFactory = _ => 1000, Description = "Number of scenes" };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 1, Description = "Same seed, same scenes" };
        var size = new Option<int>("--size") { DefaultValueFactory = _ => 256, Description = "Image side in pixels (224-512)" };
        var command = new Command("synth", "Generate top-down remote-sensing scenes with exact captions, aspects and questions") { output, count, seed, size };
        command.SetAction(parse =>
        {
            try
            {
                int n = parse.GetValue(count);
                var elapsed = SyntheticBenchmark.Write(parse.GetValue(output)!.FullName, n, parse.GetValue(seed), parse.GetValue(size),
                    new Progress<int>(done => Console.Error.Write($"\r{done}/{n} scenes")));
                Console.Error.WriteLine();
                Console.WriteLine($"wrote {n} scenes to {parse.GetValue(output)!.FullName} in {elapsed.TotalSeconds:F1} s ({n / elapsed.TotalSeconds:F0} scenes/s)");
                return 0;
            }
            catch (ArgumentOutOfRangeException e)
            {
                return CliErrors.Report(e, false);
            }
        });
        return command;
    }
}
