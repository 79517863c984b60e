using RsMoe.Captions;
using RsMoe.Model.Llm;
using RsMoe.Model.Moe;
using RsMoe.Model.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Tests.Moe;

/// <summary>A model saved by <see cref="ModelFolder"/> has its documented layout and loads back to the same weights, in both expert layouts.</summary>
public sealed class ModelFolderTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("rsmoe-folder-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static RsMoeModel TinyModelWithTrainedExperts(bool summaryToken = false)
    {
        string[] texts = [CaptionPolicy.Instruction, "a green field beside a road", "many houses and trees", "the road crosses the field", "how many houses are there ?"];
        var words = WordLevelTokenizer.Build(texts.Concat(CaptionPolicy.Roles));
        var instructions = BertWordPieceTokenizer.BuildVocabulary(texts);
        var config = RsMoeConfig.EmbeddedDefault(instructions.Count, words.VocabSize);
        config = config with
        {
            Llm = config.Llm with { HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 1, HeadDim = 8 },
            QFormer = config.QFormer with { HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 1 },
            NumQueryTokens = 4,
            VisualSummaryToken = summaryToken,
        };
        var model = RsMoeModel.Create(config, instructions, words, seed: 7);
        model.StartExperts();
        // Fresh adapters add nothing (B = 0); give each expert its own so a load that drops or mixes them shows.
        using var noGrad = no_grad();
        var generator = new Generator(11);
        foreach (var expert in model.Experts.Values)
            foreach (var (name, p) in expert.named_parameters())
                if (name.Contains(".lora_B.", StringComparison.Ordinal)) p.normal_(0, 0.2, generator);
        foreach (var lm in model.Experts.Values.Append(model.Base)) lm.eval();
        model.Encoder.eval();
        return model;
    }

    static float[] Logits(LlamaForCausalLM lm)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var embeds = lm.Embed(tensor(new long[] { 1, 3, 4, 5 }).unsqueeze(0));
        return lm.Forward(embeds, arange(4, ScalarType.Int64).unsqueeze(0)).to_type(ScalarType.Float32).data<float>().ToArray();
    }

    [Fact]
    public void A_saved_model_has_the_documented_layout_and_loads_back_with_every_expert()
    {
        using var model = TinyModelWithTrainedExperts();
        ModelFolder.Save(model, _dir);

        Assert.True(ModelFolder.IsModelFolder(_dir));
        Assert.True(File.Exists(Path.Combine(_dir, "rsmoe_config.json")));
        Assert.True(File.Exists(Path.Combine(_dir, "vlm_encoder.safetensors")));
        Assert.True(File.Exists(Path.Combine(_dir, "llm", "model.safetensors")));
        foreach (var role in CaptionPolicy.Roles)
            Assert.True(File.Exists(Path.Combine(_dir, "experts", role, "adapter_model.safetensors")), role);
        var config = ModelFolder.LoadConfig(_dir);
        Assert.Equal(model.Config.Llm.HiddenSize, config.Llm.HiddenSize);
        Assert.Equal(model.Config.Router.ExpertRoles, config.Router.ExpertRoles);

        using var merged = ModelFolder.Load(_dir);
        Assert.Equal(CaptionPolicy.Roles.Order(), merged.Experts.Keys.Order());
        foreach (var role in CaptionPolicy.Roles)
        {
            var expected = Logits(model.Experts[role]);
            var actual = Logits(merged.Experts[role]);
            Assert.Equal(expected.Length, actual.Length);
            Assert.All(expected.Zip(actual), pair => Assert.Equal(pair.First, pair.Second, 1e-4f));
        }
        // The experts differ from each other, so the check above would catch a mixed-up adapter.
        Assert.NotEqual(Logits(merged.Experts[CaptionPolicy.Roles[0]]), Logits(merged.Experts[CaptionPolicy.Roles[1]]));
        var q = model.Encoder.state_dict();
        foreach (var (name, value) in merged.Encoder.state_dict())
            Assert.True(value.allclose(q[name]), name);

        using var shared = ModelFolder.Load(_dir, sharedBase: true);
        Assert.Empty(shared.Experts);
        Assert.NotNull(shared.Bank);
        Assert.All(CaptionPolicy.Roles, role => Assert.True(shared.Bank!.IndexOf(role) >= 0, role));
        using var visual = randn(1, 49, 512, generator: new Generator(3));
        var caption = shared.Caption(visual, CaptionPolicy.Instruction, new RsMoe.Model.Generation.GenerationOptions { MaxNewTokens = 4 });
        Assert.Equal(CaptionPolicy.Roles.Count, caption.Gate.Count);
    }

    [Fact]
    public void A_summary_token_is_saved_with_its_flag_and_loads_back()
    {
        using var model = TinyModelWithTrainedExperts(summaryToken: true);
        using (no_grad()) model.Encoder.state_dict()["visual_summary"].normal_(0, 1, new Generator(5));
        ModelFolder.Save(model, _dir);
        Assert.True(ModelFolder.LoadConfig(_dir).VisualSummaryToken);

        using var loaded = ModelFolder.Load(_dir, sharedBase: true);
        Assert.True(loaded.Encoder.HasSummaryToken);
        Assert.True(loaded.Encoder.state_dict()["visual_summary"].allclose(model.Encoder.state_dict()["visual_summary"]));
        using var scope = NewDisposeScope();
        var visual = randn(1, 49, 512, generator: new Generator(3));
        using var expected = model.Encode(visual, [CaptionPolicy.Instruction]);
        using var actual = loaded.Encode(visual, [CaptionPolicy.Instruction]);
        Assert.True(actual.VisualPrefix.allclose(expected.VisualPrefix, 1e-5, 1e-5));
    }

    [Fact]
    public void A_folder_without_a_config_or_with_a_missing_adapter_is_refused_with_its_name()
    {
        var notAModel = Assert.Throws<FileNotFoundException>(() => ModelFolder.Load(_dir));
        Assert.Contains("rsmoe_config.json", notAModel.Message);
        Assert.False(ModelFolder.IsModelFolder(_dir));

        using (var model = TinyModelWithTrainedExperts()) ModelFolder.Save(model, _dir);
        Directory.Delete(ModelFolder.AdapterPath(_dir, "objects"), recursive: true);
        foreach (bool sharedBase in new[] { false, true })
        {
            var missing = Assert.Throws<FileNotFoundException>(() => ModelFolder.Load(_dir, sharedBase: sharedBase));
            Assert.Contains("'objects'", missing.Message);
        }
    }
}
