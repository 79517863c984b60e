using RsMoe.Model.Configs;
using RsMoe.Model.Llm;
using RsMoe.Model.Tokenizers;
using static TorchSharp.torch;

namespace RsMoe.Model.Checkpoints.Gguf;

/// <summary>
/// A <see cref="LlamaForCausalLM"/> as a GGUF file llama.cpp runs (architecture <c>llama</c>), with the tensor names,
/// metadata and query/key row order of llama.cpp's <c>convert_hf_to_gguf.py</c>.
/// </summary>
public static class LlamaGgufExporter
{
    /// <summary>What was written: the matrices' type, and the tensors that could not take it (Q8_0 needs rows of 32).</summary>
    /// <param name="BytesReadPerToken">Tensor bytes one decode step reads: every tensor but the embedding table, of which
    /// a step reads one row, unless it doubles as the output head.</param>
    public sealed record Result(string Path, GgmlType Type, long Bytes, int Tensors, long Parameters, long BytesReadPerToken, IReadOnlyList<string> KeptAsF16);

    public static GgmlType ParseType(string name) => name.ToLowerInvariant() switch
    {
        "f32" or "fp32" => GgmlType.F32,
        "f16" or "fp16" => GgmlType.F16,
        "bf16" => GgmlType.BF16,
        "q8_0" => GgmlType.Q8_0,
        _ => throw new ArgumentException($"unknown GGUF type '{name}' (f32, f16, bf16, q8_0)"),
    };

    /// <param name="tokenizer">Its pieces become llama.cpp's vocabulary, so llama.cpp prints the same text for the
    /// same ids; without one the pieces are placeholders. llama.cpp reads the vocabulary as SentencePiece's, so it
    /// tokenises text its own way: give it token ids, as <c>rsmoe bench</c> and the parity test do.</param>
    public static Result Export(LlamaForCausalLM lm, string path, GgmlType type, ITextTokenizer? tokenizer = null, string name = "rsmoe-llama")
    {
        var config = lm.Config;
        if (config.AttentionBias || config.MlpBias) throw new NotSupportedException("GGUF export: biases in attention or MLP are not supported");
        if (tokenizer is not null && tokenizer.VocabSize > config.VocabSize)
            throw new ArgumentException($"GGUF export: the tokenizer has {tokenizer.VocabSize} tokens, the model {config.VocabSize}");

        var writer = new GgufWriter()
            .Add("general.architecture", "llama")
            .Add("general.name", name)
            .Add("general.file_type", GgmlEncoding.FileType(type))
            .Add("llama.vocab_size", (uint)config.VocabSize)
            .Add("llama.context_length", (uint)config.MaxPositionEmbeddings)
            .Add("llama.embedding_length", (uint)config.HiddenSize)
            .Add("llama.block_count", (uint)config.NumHiddenLayers)
            .Add("llama.feed_forward_length", (uint)config.IntermediateSize)
            .Add("llama.attention.head_count", (uint)config.NumAttentionHeads)
            .Add("llama.attention.head_count_kv", (uint)config.KeyValueHeads)
            .Add("llama.attention.key_length", (uint)config.HeadDimension)
            .Add("llama.attention.value_length", (uint)config.HeadDimension)
            .Add("llama.rope.dimension_count", (uint)config.HeadDimension)
            .Add("llama.rope.freq_base", (float)config.RopeTheta)
            .Add("llama.attention.layer_norm_rms_epsilon", (float)config.RmsNormEps);
        AddVocabulary(writer, config, tokenizer);

        var parameters = lm.state_dict().Where(p => !p.Key.Contains(".lora_", StringComparison.Ordinal)).ToDictionary(p => p.Key, p => p.Value);
        var keptAsF16 = new List<string>();
        void Matrix(string ggufName, string key, Func<Tensor, Tensor>? reorder = null)
        {
            var tensor = parameters[key];
            var shape = tensor.shape;
            var chosen = type == GgmlType.Q8_0 && shape[^1] % GgmlEncoding.Q8BlockSize != 0 ? GgmlType.F16 : type;
            if (chosen != type) keptAsF16.Add(ggufName);
            writer.AddTensor(new(ggufName, shape, chosen, () => Values(tensor, reorder)));
        }
        void Vector(string ggufName, string key) => writer.AddTensor(new(ggufName, parameters[key].shape, GgmlType.F32, () => Values(parameters[key], null)));

        Matrix("token_embd.weight", "model.embed_tokens.weight");
        if (InverseFrequencyFactors(config) is { } factors)
            writer.AddTensor(new("rope_freqs.weight", [factors.Length], GgmlType.F32, () => factors));
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            string hf = $"model.layers.{i}.", gguf = $"blk.{i}.";
            Vector(gguf + "attn_norm.weight", hf + "input_layernorm.weight");
            Matrix(gguf + "attn_q.weight", hf + "self_attn.q_proj.weight", w => InterleaveRotaryHalves(w, config.NumAttentionHeads));
            Matrix(gguf + "attn_k.weight", hf + "self_attn.k_proj.weight", w => InterleaveRotaryHalves(w, config.KeyValueHeads));
            Matrix(gguf + "attn_v.weight", hf + "self_attn.v_proj.weight");
            Matrix(gguf + "attn_output.weight", hf + "self_attn.o_proj.weight");
            Vector(gguf + "ffn_norm.weight", hf + "post_attention_layernorm.weight");
            Matrix(gguf + "ffn_gate.weight", hf + "mlp.gate_proj.weight");
            Matrix(gguf + "ffn_up.weight", hf + "mlp.up_proj.weight");
            Matrix(gguf + "ffn_down.weight", hf + "mlp.down_proj.weight");
        }
        Vector("output_norm.weight", "model.norm.weight");
        if (!config.TieWordEmbeddings) Matrix("output.weight", "lm_head.weight");   // tied: llama.cpp reuses token_embd

        writer.Save(path);
        long parametersCount = writer.Tensors.Sum(t => t.Elements);
        long readPerToken = writer.Tensors.Where(t => t.Name != "token_embd.weight" || config.TieWordEmbeddings).Sum(t => t.ByteCount);
        return new Result(path, type, new FileInfo(path).Length, writer.Tensors.Count, parametersCount, readPerToken, keptAsF16);
    }

    static float[] Values(Tensor tensor, Func<Tensor, Tensor>? reorder)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var t = tensor.detach().cpu();
        if (reorder is not null) t = reorder(t);
        return t.to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
    }

    /// <summary>
    /// Hugging Face rotates the two halves of each head (rotate_half); llama.cpp's <c>llama</c> architecture rotates
    /// adjacent pairs. Reordering each head's query/key rows from [first half; second half] to interleaved pairs makes
    /// the two the same function (convert_hf_to_gguf.py's <c>LlamaModel.permute</c>).
    /// </summary>
    public static Tensor InterleaveRotaryHalves(Tensor weight, int heads)
    {
        long rows = weight.shape[0], columns = weight.shape[1];
        return weight.reshape(heads, 2, rows / heads / 2, columns).transpose(1, 2).reshape(rows, columns);
    }

    /// <summary>
    /// llama3 RoPE scaling as llama.cpp takes it: one factor per frequency that divides the plain frequency
    /// (<c>rope_freqs.weight</c>); null when the config has no scaling.
    /// </summary>
    static float[]? InverseFrequencyFactors(LlamaConfig config)
    {
        if (config.RopeScaling is null || config.RopeScaling.Kind == "default") return null;
        if (config.RopeScaling.Kind != "llama3") throw new NotSupportedException($"GGUF export: rope_scaling '{config.RopeScaling.Kind}' is not supported (llama3 only)");
        var plain = LlamaRotaryEmbedding.InverseFrequencies(config with { RopeScaling = null });
        var scaled = LlamaRotaryEmbedding.InverseFrequencies(config);
        return plain.Select((p, i) => p / scaled[i]).ToArray();
    }

    /// <summary>The vocabulary as a SentencePiece-style (<c>llama</c>) list: one unique piece per id, the special ids marked as control tokens.</summary>
    static void AddVocabulary(GgufWriter writer, LlamaConfig config, ITextTokenizer? tokenizer)
    {
        const int Normal = 1, Control = 3;
        var special = new HashSet<int>((tokenizer?.EosTokenIds ?? config.EosTokenId ?? []).Concat(new[] { tokenizer?.BosTokenId ?? config.BosTokenId, tokenizer?.PadTokenId ?? config.PadTokenId }.OfType<int>()));
        var tokens = new string[config.VocabSize];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int id = 0; id < tokens.Length; id++)
        {
            string? piece = tokenizer is not null && id < tokenizer.VocabSize ? tokenizer.Decode([id], skipSpecialTokens: false) : null;
            // Pieces must be unique and non-empty for llama.cpp's lookup table; a byte fragment decodes to U+FFFD.
            if (string.IsNullOrEmpty(piece) || piece.Contains('\uFFFD') || !seen.Add(piece)) piece = $"<rsmoe_{id}>";
            tokens[id] = piece;
        }
        writer.Add("tokenizer.ggml.model", "llama")
            .Add("tokenizer.ggml.tokens", tokens)
            .Add("tokenizer.ggml.scores", new float[tokens.Length])
            .Add("tokenizer.ggml.token_type", Enumerable.Range(0, tokens.Length).Select(id => special.Contains(id) ? Control : Normal).ToArray())
            .Add("tokenizer.ggml.add_bos_token", false);
        if ((tokenizer?.BosTokenId ?? config.BosTokenId) is { } bos) writer.Add("tokenizer.ggml.bos_token_id", (uint)bos);
        if ((tokenizer?.EosTokenIds ?? config.EosTokenId) is { Count: > 0 } eos) writer.Add("tokenizer.ggml.eos_token_id", (uint)eos[0]);
        if ((tokenizer?.PadTokenId ?? config.PadTokenId) is { } pad) writer.Add("tokenizer.ggml.padding_token_id", (uint)pad);
    }
}
