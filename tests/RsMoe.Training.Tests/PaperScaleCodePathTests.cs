using RsMoe.Data.Synthetic;
using RsMoe.Model.Moe;
using RsMoe.Model.Vision;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace RsMoe.Training.Tests;

/// <summary>
/// The paper-scale path (InstructBLIP vision + Q-Former, a pretrained Llama, LoRA in Stage I, LoRA experts in Stage II)
/// on the same configuration shapes shrunk: random checkpoints written in the Hugging Face layouts.
/// </summary>
public sealed class PaperScaleCodePathTests
{
    readonly ITestOutputHelper _output;
    public PaperScaleCodePathTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void BothStagesRunOnShrunkInstructBlipAndLlamaCheckpoints()
    {
        string root = Path.Combine(Path.GetTempPath(), "rsmoe-paper-tests", Guid.NewGuid().ToString("N"));
        string data = Path.Combine(root, "synth");
        SyntheticBenchmark.Write(data, 20, seed: 5);

        var (blip, llm) = ShrunkPaperCheckpoints.Write(root);

        var config = new TrainingConfig
        {
            Stage = "two-stage", ImageEncoder = "instructblip", InstructBlip = blip, Llm = llm, Stage1Lora = true,
            Data = data, Output = Path.Combine(root, "run"), TrainImages = 8, BatchSize = 4, Epochs = 1, Stage2Epochs = 1, MaxSteps = 2,
            LearningRate = 1e-3, Stage2LearningRate = 1e-3, IncludeVqa = true, Bf16Autocast = true,
        };
        var report = new Trainer(config, _output.WriteLine).Run();
        Assert.True(report.LossByStage.ContainsKey("stage1") && report.LossByStage.ContainsKey("stage2"));
        Assert.All(report.LossByStage.Values, l => Assert.True(double.IsFinite(l.First) && double.IsFinite(l.Last)));

        using var model = ModelFolder.Load(report.ModelDirectory);
        Assert.Equal(32, model.Config.Llm.HiddenSize);
        Assert.Equal(3, model.Experts.Count);
        using var tokens = randn(1, 17, 32);
        var caption = model.Caption(tokens, "Describe this image in detail.", new RsMoe.Model.Generation.GenerationOptions { MaxNewTokens = 3 });
        Assert.Equal(3, caption.Sections.Count);

        // The model folder names its backbone and where its weights are, so it serves and evaluates as trained.
        Assert.Equal(ImageBackbone.InstructBlipVision, model.Config.ImageEncoder);
        Assert.Equal(Path.GetFullPath(blip), model.Config.VisionCheckpoint);
        using var backbone = ImageBackbone.For(model.Config);
        using var visual = backbone.Encode(File.ReadAllBytes(SharedData.Path("rsscn7", "images", "eForest", "e010.jpg")));
        Assert.Equal([1L, 17, 32], visual.shape);   // 28 px in patches of 7, plus the class token
    }
}
