using RsMoe.Data.Synthetic;
using RsMoe.Model.Checkpoints;
using RsMoe.Model.Moe;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace RsMoe.Training.Tests;

/// <summary>Short real training runs on generated scenes: the loss falls, a resume continues exactly, features are cached.</summary>
public sealed class TrainerTests : IClassFixture<TrainerTests.SceneData>
{
    public sealed class SceneData
    {
        public string Directory { get; } = Path.Combine(Path.GetTempPath(), "rsmoe-train-tests", Guid.NewGuid().ToString("N"), "synth");
        public SceneData() => SyntheticBenchmark.Write(Directory, 60, seed: 11);
    }

    readonly SceneData _data;
    readonly ITestOutputHelper _output;

    public TrainerTests(SceneData data, ITestOutputHelper output)
    {
        _data = data;
        _output = output;
    }

    TrainingConfig Config(string name) => TrainingConfig.Preset("ci") with
    {
        Data = _data.Directory, Output = Path.Combine(Path.GetDirectoryName(_data.Directory)!, name, "run"), TrainImages = 32,
    };

    [Fact]
    public void ATwoStageRunLowersTheLossAndSavesAModelThatCaptions()
    {
        var report = new Trainer(Config("two-stage"), _output.WriteLine).Run();
        foreach (var (stage, (first, last)) in report.LossByStage) _output.WriteLine($"{stage}: {first:F3} → {last:F3}");
        Assert.True(report.LossByStage["stage1"].Last < report.LossByStage["stage1"].First * 0.8);
        Assert.True(report.LossByStage["stage2"].Last < report.LossByStage["stage2"].First);
        foreach (var file in new[] { "stage1-loss.png", "stage2-loss.png", "stage1-metrics.json", "stage2-metrics.json", "config.json" })
            Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(report.ModelDirectory)!, file)), file);
        foreach (var role in new[] { "theme", "objects", "relationships" })
            Assert.True(File.Exists(Path.Combine(report.ModelDirectory, "experts", role, "adapter_model.safetensors")));

        using var model = ModelFolder.Load(report.ModelDirectory);
        using var tokens = randn(1, 49, 512);
        var caption = model.Caption(tokens, "Describe this image in detail.", new RsMoe.Model.Generation.GenerationOptions { MaxNewTokens = 8 });
        Assert.Equal(["theme", "objects", "relationships"], caption.Sections.Select(s => s.Aspect));
        Assert.Equal(3, caption.Gate.Count);
        Assert.Equal(1.0, caption.Gate.Sum(), 6);
    }

    [Fact]
    public void StageTwoCanCountEveryExampleOnceInsteadOfEveryToken()
    {
        // The same Stage II batches (captions of a dozen tokens beside one-word answers) under both losses; one batch
        // may hold targets of one length only, where the two losses agree, so the runs go six steps.
        var tokenMean = new Trainer(Config("token-mean") with { MaxSteps = 6 }, _output.WriteLine).Run();
        var perExample = new Trainer(Config("per-example") with { MaxSteps = 6, Stage2PerExampleShare = 1 }, _output.WriteLine).Run();
        Assert.Equal(tokenMean.LossByStage["stage1"].Last, perExample.LossByStage["stage1"].Last, 4);
        double a = tokenMean.LossByStage["stage2"].Last, b = perExample.LossByStage["stage2"].Last;
        _output.WriteLine($"last Stage II loss: token mean {a:F4}, per example {b:F4}");
        Assert.True(double.IsFinite(b));
        Assert.True(Math.Abs(a - b) > 1e-3, $"{a} against {b}");
    }

    [Fact]
    public void AResumedRunEndsWithTheSameWeightsAsAnUninterruptedOne()
    {
        var straight = Config("straight") with { Stage = "stage1", MaxSteps = 6 };
        var reportA = new Trainer(straight, _output.WriteLine).Run();

        var interrupted = Config("interrupted") with { Stage = "stage1", MaxSteps = 6, CheckpointEvery = 3 };
        new Trainer(interrupted, _output.WriteLine).Run();
        string checkpoint = Path.Combine(interrupted.Output, "checkpoints", "step-000003");
        Assert.True(Directory.Exists(checkpoint));
        var resumed = interrupted with { Output = Path.Combine(Path.GetDirectoryName(_data.Directory)!, "resumed", "run") };
        var reportB = new Trainer(resumed, _output.WriteLine).Run(checkpoint);

        using var a = CheckpointDirectory.Open(Path.Combine(reportA.ModelDirectory, "llm"));
        using var b = CheckpointDirectory.Open(Path.Combine(reportB.ModelDirectory, "llm"));
        foreach (var key in a.Keys)
        {
            using var x = a.Read(key);
            using var y = b.Read(key);
            Assert.True(x.allclose(y, 0, 1e-6), $"{key} differs after resuming");
        }
        using var ea = CheckpointDirectory.Open(Path.Combine(reportA.ModelDirectory, "vlm_encoder.safetensors"));
        using var eb = CheckpointDirectory.Open(Path.Combine(reportB.ModelDirectory, "vlm_encoder.safetensors"));
        using var qa = ea.Read("query_tokens");
        using var qb = eb.Read("query_tokens");
        Assert.True(qa.allclose(qb, 0, 1e-6));
    }

    /// <summary>
    /// The end of Stage I is a checkpoint, so Stage II can be rerun alone with other settings: resumed from it with
    /// another Stage II loss, a run ends where a whole run with that loss ends.
    /// </summary>
    [Fact]
    public void StageTwoCanBeRerunFromTheCheckpointAtTheEndOfStageOne()
    {
        var first = Config("stage-end") with { MaxSteps = 4, CheckpointEvery = 1000 };
        new Trainer(first, _output.WriteLine).Run();
        var checkpoints = Directory.GetDirectories(Path.Combine(first.Output, "checkpoints"));
        string stageOneEnd = Assert.Single(checkpoints);
        Assert.Contains("\"stage1\"", File.ReadAllText(Path.Combine(stageOneEnd, "trainer_state.json")));

        var other = Config("other-loss") with { MaxSteps = 4, Stage2PerExampleShare = 0.5 };
        var whole = new Trainer(other, _output.WriteLine).Run();
        var rerun = new Trainer(other with { Output = Path.Combine(Path.GetDirectoryName(_data.Directory)!, "rerun", "run") }, _output.WriteLine).Run(stageOneEnd);
        Assert.Equal(whole.LossByStage["stage2"].First, rerun.LossByStage["stage2"].First, 5);
        Assert.Equal(whole.LossByStage["stage2"].Last, rerun.LossByStage["stage2"].Last, 5);
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(rerun.ModelDirectory)!, "stage1-metrics.json")), "Stage I did not run in the rerun");
        Assert.Throws<ArgumentOutOfRangeException>(() => new Trainer(other with { Stage2PerExampleShare = -0.1 }, _output.WriteLine));
    }

    [Fact]
    public void FeaturesAreEncodedOnceAndReadFromTheCacheAfterwards()
    {
        var config = Config("cache") with { Stage = "stage1", MaxSteps = 1 };
        var first = new Trainer(config, _output.WriteLine).Run();
        var second = new Trainer(config, _output.WriteLine).Run();
        Assert.True(first.FeatureCacheMisses > 0 || first.FeatureCacheHits > 0);
        Assert.Equal(0, second.FeatureCacheMisses);
        Assert.True(second.FeatureCacheHits >= 32);
    }

    /// <summary>
    /// Another ResNet-18 tap is a training option: the model is built for its tokens and names it, so every service
    /// encodes with it; so is averaging orientations, which the model names for inference while training reads each
    /// view once (its cache holds single-orientation maps only).
    /// </summary>
    [Fact]
    public void AModelTrainedOnTheThirdStageIsBuiltForItsTokensAndNamesIt()
    {
        var config = Config("layer3") with { Stage = "stage1", MaxSteps = 1, ImageEncoder = RsMoe.Model.Vision.ImageBackbone.ResNet18ThirdStage, ImageOrientations = 2 };
        var report = new Trainer(config, _output.WriteLine).Run();
        using var model = ModelFolder.Load(report.ModelDirectory);
        Assert.Equal(RsMoe.Model.Vision.ImageBackbone.ResNet18ThirdStage, model.Config.ImageEncoder);
        Assert.Equal(256, model.Config.VisionHiddenSize);
        Assert.Equal(2, model.Config.ImageOrientations);
        var caches = Directory.GetDirectories(Path.Combine(config.Output, "..", "feature-cache")).Select(Path.GetFileName).ToList();
        Assert.Contains(caches, c => c!.EndsWith("-layer3"));
        Assert.DoesNotContain(caches, c => c!.Contains("orientations"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Trainer(config with { ImageOrientations = 3 }, _output.WriteLine).Run());
        using var backbone = RsMoe.Model.Vision.ImageBackbone.For(model.Config);
        Assert.EndsWith("-layer3-orientations2", backbone.Identity);
        using var scope = NewDisposeScope();
        var image = Directory.EnumerateFiles(_data.Directory, "*.png", SearchOption.AllDirectories).First();
        var tokens = backbone.Encode(File.ReadAllBytes(image));
        Assert.Equal(new long[] { 1, 196, 256 }, tokens.shape);
        var answer = model.Ask(tokens, "What is the main land use?", new RsMoe.Model.Generation.GenerationOptions { MaxNewTokens = 4 });
        Assert.Equal(1.0, answer.Gate.Sum(), 6);
    }
}

public sealed class ThemeAccuracyTests
{
    [Theory]
    [InlineData("This is an aerial image of a residential neighborhood.", "fResident", true)]
    [InlineData("This is an aerial image of a harbor area.", "dRiverLake", false)]
    [InlineData("Many green trees are around an irregular pond.", "dRiverLake", true)]
    [InlineData("Several ponds are surrounded by green trees.", "dRiverLake", true)]
    [InlineData("The image shows a large parking lot seen from above.", "gParking", true)]
    [InlineData("This is an aerial image of farmland.", "aGrass", false)]
    public void AThemeNamesAClassByItsWords(string theme, string label, bool names) =>
        Assert.Equal(names, ThemeAccuracy.Names(theme, label));

    [Fact]
    public void ExpertsShareAspectsWhenThereAreFewerThanThree()
    {
        Assert.Equal(0, TrainingSamples.ExpertOf("relationships", 1));
        Assert.Equal(1, TrainingSamples.ExpertOf("relationships", 2));
        Assert.Equal(0, TrainingSamples.ExpertOf("objects", 2));
        Assert.Equal(2, TrainingSamples.ExpertOf("relationships", 4, aboutTheImageFrame: true));
        Assert.Equal(3, TrainingSamples.ExpertOf("relationships", 4));
        Assert.Equal("relationships", TrainingSamples.AspectOfQuestion("road_ori"));
        Assert.Equal("objects", TrainingSamples.AspectOfQuestion("color"));
        Assert.Equal("theme", TrainingSamples.AspectOfQuestion("reasoning"));
    }
}

public sealed class TrainingConfigTests
{
    [Fact]
    public void JsonAndYamlConfigsReadTheSameAndPresetsAreNamed()
    {
        string dir = Path.Combine(Path.GetTempPath(), "rsmoe-config-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "run.json"), "{ \"stage\": \"stage1\", \"epochs\": 3, \"learning_rate\": 0.0005, \"stage1_lora\": true, // a comment\n \"experts\": 2 }");
        File.WriteAllText(Path.Combine(dir, "run.yaml"), "stage: stage1\nepochs: 3\nlearning_rate: 0.0005\nstage1_lora: true\nexperts: 2\n");
        var json = TrainingConfig.Load(Path.Combine(dir, "run.json"));
        var yaml = TrainingConfig.Load(Path.Combine(dir, "run.yaml"));
        Assert.Equal(json, yaml);
        Assert.Equal(0.0005, yaml.LearningRate);
        Assert.True(yaml.Stage1Lora);
        Assert.Equal(0.05, TrainingConfig.Preset("default").WeightDecay);
        Assert.Throws<ArgumentException>(() => TrainingConfig.Preset("nope"));
        File.WriteAllText(Path.Combine(dir, "bad.yaml"), "stage: [unclosed");
        Assert.Throws<InvalidDataException>(() => TrainingConfig.Load(Path.Combine(dir, "bad.yaml")));
        // A run's saved config.json trains the same run again: the real preset (no synthetic data) reads back equal.
        File.WriteAllText(Path.Combine(dir, "saved.json"), TrainingConfig.Preset("real").ToJson());
        Assert.Equal(TrainingConfig.Preset("real"), TrainingConfig.Load(Path.Combine(dir, "saved.json")));
        Assert.Equal(8, TrainingConfig.Preset("real").ImageOrientations);
        foreach (var paper in Directory.GetFiles(FindConfigs(), "*.json"))
            Assert.Equal("instructblip", TrainingConfig.Load(paper).ImageEncoder);
    }

    static string FindConfigs()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (Directory.Exists(Path.Combine(d.FullName, "configs", "paper"))) return Path.Combine(d.FullName, "configs", "paper");
        throw new DirectoryNotFoundException("configs/paper");
    }
}
