using System.CommandLine;
using System.Text.Json;
using RsMoe.Training;

namespace RsMoe.Cli.Commands;

/// <summary><c>rsmoe train</c>: two-stage (or one-stage) RS-MoE training from a config file or a preset.</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var config = new Option<FileInfo?>("--config") { Description = "Training config (JSON)" };
        var preset = new Option<string?>("--preset") { Description = "real (the shipped default), default (synthetic only), default-rsscn7 or ci" };
        var realData = new Option<DirectoryInfo?>("--real-data") { Description = "Shared data folder (UCM-captions, RSICD, RSIVQA, caption corpora; overrides the config)" };
        var data = new Option<DirectoryInfo?>("--data") { Description = "Synthetic benchmark folder (overrides the config)" };
        var output = new Option<DirectoryInfo?>("--out") { Description = "Run folder (overrides the config)" };
        var rsscn7 = new Option<DirectoryInfo?>("--rsscn7") { Description = "RSSCN7 folder: mix its photographs in as theme-only examples" };
        var resume = new Option<DirectoryInfo?>("--resume") { Description = "Continue from a checkpoint folder" };
        var stage = new Option<string?>("--stage") { Description = "two-stage, stage1, stage2 or one-stage" };
        var experts = new Option<int?>("--experts") { Description = "Number of experts (ablations)" };
        var command = new Command("train", "Train RS-MoE: Stage I (Q-Former + one LLM), Stage II (LoRA experts + router)")
        {
            config, preset, data, output, rsscn7, realData, resume, stage, experts,
        };
        command.SetAction(parse =>
        {
            try
            {
                var settings = parse.GetValue(config) is { } file ? TrainingConfig.Load(file.FullName)
                    : TrainingConfig.Preset(parse.GetValue(preset) ?? "real");
                if (parse.GetValue(data) is { } d) settings = settings with { Data = d.FullName };
                if (parse.GetValue(output) is { } o) settings = settings with { Output = o.FullName };
                if (parse.GetValue(realData) is { } shared) settings = settings with { RealData = shared.FullName, Rsscn7 = settings.Rsscn7 is null ? null : Path.Combine(shared.FullName, "rsscn7") };
                if (parse.GetValue(rsscn7) is { } r) settings = settings with { Rsscn7 = r.FullName };
                if (parse.GetValue(stage) is { } s) settings = settings with { Stage = s };
                if (parse.GetValue(experts) is { } n) settings = settings with { Experts = n };
                var report = new Trainer(settings).Run(parse.GetValue(resume)?.FullName);
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    model = report.ModelDirectory, minutes = Math.Round(report.Seconds / 60, 2),
                    loss = report.LossByStage.ToDictionary(l => l.Key, l => new { first = Math.Round(l.Value.First, 4), last = Math.Round(l.Value.Last, 4) }),
                    feature_cache = new { hits = report.FeatureCacheHits, misses = report.FeatureCacheMisses },
                }));
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException)
            {
                return CliErrors.Report(e, false);
            }
        });
        return command;
    }
}
