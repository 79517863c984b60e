using System.Text.Json;
using RsMoe.Data.Synthetic;
using RsMoe.Model.Checkpoints;
using RsMoe.Model.Configs;
using RsMoe.Model.Llm;
using RsMoe.Model.Moe;
using RsMoe.Model.QFormer;
using RsMoe.Model.Tokenizers;
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

        // A shrunk InstructBLIP folder: vision 28 px / patch 7, a 2-layer Q-Former, 4 queries, language model width 48.
        string blip = Path.Combine(root, "instructblip");
        Directory.CreateDirectory(Path.Combine(blip, "qformer_tokenizer"));
        var vocabulary = BertWordPieceTokenizer.BuildVocabulary(["Describe this image in detail.", "Take a look at this image and describe what you notice.",
            "Could you describe the contents of this image for me?", "Please provide a detailed description of the picture."]);
        File.WriteAllLines(Path.Combine(blip, "qformer_tokenizer", "vocab.txt"), vocabulary);
        var vision = new VisionConfig { HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4, ImageSize = 28, PatchSize = 7 };
        var qformer = new QFormerConfig { VocabSize = vocabulary.Count, HiddenSize = 24, NumHiddenLayers = 2, NumAttentionHeads = 4, IntermediateSize = 48, EncoderHiddenSize = 32 };
        var text = new LlamaConfig { VocabSize = 100, HiddenSize = 48, IntermediateSize = 96, NumHiddenLayers = 1, NumAttentionHeads = 4, NumKeyValueHeads = 2, HeadDim = 12, RopeScaling = null, TieWordEmbeddings = false };
        File.WriteAllText(Path.Combine(blip, "config.json"), JsonSerializer.Serialize(new
        {
            model_type = "instructblip", num_query_tokens = 4,
            vision_config = JsonSerializer.SerializeToNode(vision, HfConfigJson.Options),
            qformer_config = JsonSerializer.SerializeToNode(qformer, HfConfigJson.Options),
            text_config = JsonSerializer.SerializeToNode(text, HfConfigJson.Options),
        }));
        using (var visionModel = new EvaVisionModel(vision))
        using (var encoder = new VlmEncoder(qformer, 4, text.HiddenSize, new RsMoe.Model.Router.RouterConfig()))
        {
            var tensors = visionModel.state_dict().ToDictionary(p => "vision_model." + p.Key, p => p.Value);
            foreach (var (k, v) in encoder.state_dict()) if (!k.StartsWith("router.")) tensors[k] = v;
            SafetensorsWriter.Save(Path.Combine(blip, "model.safetensors"), tensors);
        }

        // A shrunk Llama with GPT-2's tokenizer, 32 wide: the projection must start afresh (48 → 32).
        string llm = Path.Combine(root, "llama");
        using (var lm = LlamaForCausalLM.Create(new LlamaConfig { VocabSize = 50257, HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 2, HeadDim = 8, RopeScaling = null, TieWordEmbeddings = true, BosTokenId = 50256, EosTokenId = [50256] }, seed: 3))
            lm.SavePretrained(llm);
        File.WriteAllText(Path.Combine(llm, "tokenizer.gpt2"), "");

        var config = new TrainingConfig
        {
            Stage = "two-stage", ImageEncoder = "instructblip", InstructBlip = blip, Llm = llm, Stage1Lora = true,
            Data = data, Output = Path.Combine(root, "run"), TrainImages = 8, BatchSize = 4, Epochs = 1, Stage2Epochs = 1, MaxSteps = 2,
            LearningRate = 1e-3, Stage2LearningRate = 1e-3, IncludeVqa = true, Bf16Autocast = true,
        };
        var report = new Trainer(config, _output.WriteLine).Run();
        Assert.True(report.LossByStage.ContainsKey("stage1") && report.LossByStage.ContainsKey("stage2"));
        Assert.All(report.LossByStage.Values, l => Assert.True(double.IsFinite(l.First) && double.IsFinite(l.Last)));

        using var model = RsMoeModel.Load(report.ModelDirectory);
        Assert.Equal(32, model.Config.Llm.HiddenSize);
        Assert.Equal(3, model.Experts.Count);
        using var tokens = randn(1, 17, 32);
        var caption = model.Caption(tokens, "Describe this image in detail.", new RsMoe.Model.Generation.GenerationOptions { MaxNewTokens = 3 });
        Assert.Equal(3, caption.Sections.Count);
    }
}
