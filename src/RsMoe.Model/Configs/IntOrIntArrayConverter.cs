using System.Text.Json;
using System.Text.Json.Serialization;

namespace RsMoe.Model.Configs;

/// <summary>Hugging Face writes <c>eos_token_id</c> as one id or a list; both read as a list.</summary>
public sealed class IntOrIntArrayConverter : JsonConverter<int[]?>
{
    public override int[]? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null: return null;
            case JsonTokenType.Number: return [reader.GetInt32()];
            case JsonTokenType.StartArray:
                var values = new List<int>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray) values.Add(reader.GetInt32());
                return values.ToArray();
            default: throw new JsonException("expected a token id or a list of token ids");
        }
    }

    public override void Write(Utf8JsonWriter writer, int[]? value, JsonSerializerOptions options)
    {
        if (value is null) { writer.WriteNullValue(); return; }
        if (value.Length == 1) { writer.WriteNumberValue(value[0]); return; }
        writer.WriteStartArray();
        foreach (var v in value) writer.WriteNumberValue(v);
        writer.WriteEndArray();
    }
}
