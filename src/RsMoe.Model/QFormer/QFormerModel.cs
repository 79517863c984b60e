using RsMoe.Model.Configs;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RsMoe.Model.QFormer;

/// <summary>
/// <c>qformer.embeddings</c>: instruction word and position embeddings, the query embeddings placed first,
/// then LayerNorm over both (InstructBLIP's order).
/// </summary>
public sealed class QFormerEmbeddings : nn.Module
{
    readonly Embedding word_embeddings, position_embeddings;
    readonly LayerNorm layernorm;
    readonly Dropout dropout;

    public QFormerEmbeddings(QFormerConfig config) : base(nameof(QFormerEmbeddings))
    {
        word_embeddings = nn.Embedding(config.VocabSize, config.HiddenSize, padding_idx: config.PadTokenId);
        position_embeddings = nn.Embedding(config.MaxPositionEmbeddings, config.HiddenSize);
        layernorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        dropout = nn.Dropout(config.HiddenDropoutProb);
        RegisterComponents();
    }

    public Tensor Forward(Tensor? inputIds, Tensor queryEmbeds)
    {
        using var scope = NewDisposeScope();
        var embeddings = queryEmbeds;
        if (inputIds is not null && inputIds.shape[1] > 0)
        {
            var positions = arange(inputIds.shape[1], ScalarType.Int64, inputIds.device).unsqueeze(0);
            var text = word_embeddings.call(inputIds).add(position_embeddings.call(positions), Scalars.One);
            embeddings = cat([queryEmbeds, text.to_type(queryEmbeds.dtype)], 1);
        }
        return dropout.call(layernorm.call(embeddings.to_type(layernorm.weight!.dtype))).MoveToOuterDisposeScope();
    }
}

/// <summary><c>qformer.encoder</c>.</summary>
public sealed class QFormerEncoder : nn.Module
{
    readonly ModuleList<QFormerLayer> layer;

    public QFormerEncoder(QFormerConfig config) : base(nameof(QFormerEncoder))
    {
        layer = new ModuleList<QFormerLayer>(Enumerable.Range(0, config.NumHiddenLayers).Select(i => new QFormerLayer(config, i)).ToArray());
        RegisterComponents();
    }

    public IEnumerable<QFormerLayer> Layers => layer;

    public Tensor Forward(Tensor hidden, Tensor? selfAttentionMask, Tensor imageEmbeds, int queryLength)
    {
        using var scope = NewDisposeScope();
        foreach (var block in layer) hidden = block.Forward(hidden, selfAttentionMask, imageEmbeds, queryLength);
        return hidden.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// InstructBLIP's instruction-aware Q-Former (<c>qformer.*</c>): returns the hidden states of the queries
/// followed by those of the instruction tokens, [B, queries + instruction, hidden].
/// </summary>
public sealed class QFormerModel : nn.Module
{
    readonly QFormerEmbeddings embeddings;
    readonly QFormerEncoder encoder;

    public QFormerConfig Config { get; }
    public QFormerEncoder Encoder => encoder;

    public QFormerModel(QFormerConfig config) : base(nameof(QFormerModel))
    {
        Config = config;
        embeddings = new QFormerEmbeddings(config);
        encoder = new QFormerEncoder(config);
        RegisterComponents();
    }

    /// <param name="queryEmbeds">[B, Q, hidden] learned queries.</param>
    /// <param name="instructionIds">[B, T] BERT ids of the instruction, or null.</param>
    /// <param name="instructionMask">[B, T] 1 for real tokens, 0 for padding, or null for all real.</param>
    /// <param name="imageEmbeds">[B, N, encoder_hidden] visual tokens.</param>
    public Tensor Forward(Tensor queryEmbeds, Tensor? instructionIds, Tensor? instructionMask, Tensor imageEmbeds)
    {
        using var scope = NewDisposeScope();
        int queryLength = (int)queryEmbeds.shape[1];
        var hidden = embeddings.Forward(instructionIds, queryEmbeds);
        Tensor? additive = null;
        if (instructionMask is not null && instructionIds is not null && instructionIds.shape[1] > 0)
        {
            var keep = cat([ones(queryEmbeds.shape[0], queryLength, dtype: ScalarType.Float32, device: hidden.device),
                            instructionMask.to_type(ScalarType.Float32)], 1);
            // (1 - mask) * most-negative, as transformers extends BERT masks.
            using Scalar lowest = (double)torch.finfo(hidden.dtype).min;   // held for the call: see Scalars
            additive = keep.neg().add_(Scalars.One, Scalars.One).mul_(lowest).to_type(hidden.dtype).unsqueeze(1).unsqueeze(1);
        }
        return encoder.Forward(hidden, additive, imageEmbeds.to_type(hidden.dtype), queryLength).MoveToOuterDisposeScope();
    }
}
