using RsMoe.Model.Configs;
using RsMoe.Model.Llm;

namespace RsMoe.Model.Tests.Checkpoints;

public sealed class LlamaConfigTests
{
    // config.json of meta-llama/Llama-3.2-1B as published.
    const string Llama32_1B = """
    {"architectures":["LlamaForCausalLM"],"attention_bias":false,"attention_dropout":0.0,"bos_token_id":128000,
     "eos_token_id":128001,"head_dim":64,"hidden_act":"silu","hidden_size":2048,"initializer_range":0.02,
     "intermediate_size":8192,"max_position_embeddings":131072,"mlp_bias":false,"model_type":"llama",
     "num_attention_heads":32,"num_hidden_layers":16,"num_key_value_heads":8,"pretraining_tp":1,"rms_norm_eps":1e-05,
     "rope_scaling":{"factor":32.0,"high_freq_factor":4.0,"low_freq_factor":1.0,"original_max_position_embeddings":8192,"rope_type":"llama3"},
     "rope_theta":500000.0,"tie_word_embeddings":true,"torch_dtype":"bfloat16","transformers_version":"4.45.0.dev0","use_cache":true,"vocab_size":128256}
    """;

    [Fact]
    public void DefaultsAreLlama32_1B()
    {
        var parsed = LlamaConfig.Parse(Llama32_1B);
        var defaults = new LlamaConfig();
        Assert.Equal(defaults.EosTokenId, parsed.EosTokenId);
        Assert.Equal(defaults with { EosTokenId = null }, parsed with { EosTokenId = null });
    }

    [Fact]
    public void AbsentFieldsTakeTransformersClassDefaults()
    {
        // A Llama-2-style config without num_key_value_heads, head_dim, rope_scaling or tie_word_embeddings.
        var config = LlamaConfig.Parse("""{"hidden_size":64,"num_attention_heads":4,"num_hidden_layers":2,"intermediate_size":128,"vocab_size":100,"eos_token_id":[2,3]}""");
        Assert.Equal(4, config.KeyValueHeads);
        Assert.Equal(16, config.HeadDimension);
        Assert.Null(config.RopeScaling);
        Assert.False(config.TieWordEmbeddings);
        Assert.Equal(10000, config.RopeTheta);
        Assert.Equal(new[] { 2, 3 }, config.EosTokenId);
    }

    [Fact]
    public void Llama3ScalingLeavesHighFrequenciesAndDividesLowOnes()
    {
        var plain = LlamaRotaryEmbedding.InverseFrequencies(new LlamaConfig { RopeScaling = null });
        var scaled = LlamaRotaryEmbedding.InverseFrequencies(new LlamaConfig());
        Assert.Equal(32, scaled.Length);
        Assert.Equal(plain[0], scaled[0]);                       // wavelength 2π: untouched
        Assert.Equal(plain[^1] / 32, scaled[^1], 1e-12);         // longest wavelength: divided by the factor
        // In between, smoothly interpolated: strictly between the two.
        int mid = Enumerable.Range(0, 32).First(i => scaled[i] != plain[i] && Math.Abs(scaled[i] - plain[i] / 32) > 1e-12);
        Assert.InRange(scaled[mid], plain[mid] / 32, plain[mid]);
    }

    [Fact]
    public void InvalidConfigsAreRefused()
    {
        Assert.Throws<InvalidDataException>(() => LlamaConfig.Parse("""{"num_attention_heads":6,"num_key_value_heads":4}"""));
        Assert.Throws<InvalidDataException>(() => LlamaConfig.Parse("""{"hidden_act":"gelu"}"""));
        Assert.Throws<InvalidDataException>(() => LlamaConfig.Parse("not json"));
    }
}
