namespace RsMoe.TestSupport;

/// <summary>Seeded byte mutations for fuzzing: bit flips, overwrites, truncation, insertions, duplicated chunks, header damage.</summary>
public sealed class Mutator(int seed)
{
    readonly Random _random = new(seed);

    public byte[] Mutate(byte[] input)
    {
        var bytes = input.ToList();
        int mutations = 1 + _random.Next(8);
        for (int m = 0; m < mutations && bytes.Count > 0; m++)
        {
            int at = _random.Next(bytes.Count);
            switch (_random.Next(7))
            {
                case 0: bytes[at] ^= (byte)(1 << _random.Next(8)); break;
                case 1: bytes[at] = (byte)_random.Next(256); break;
                case 2: bytes.RemoveRange(at, bytes.Count - at); break;
                case 3: bytes.InsertRange(at, Enumerable.Range(0, 1 + _random.Next(64)).Select(_ => (byte)_random.Next(256))); break;
                case 4:
                    int length = Math.Min(bytes.Count - at, 1 + _random.Next(256));
                    bytes.InsertRange(_random.Next(bytes.Count), bytes.GetRange(at, length));
                    break;
                case 5: bytes[Math.Min(bytes.Count - 1, _random.Next(Math.Min(64, bytes.Count)))] = (byte)_random.Next(256); break;   // the header
                default: bytes.RemoveRange(at, Math.Min(bytes.Count - at, 1 + _random.Next(512))); break;
            }
        }
        return [.. bytes];
    }

    public int Next(int max) => _random.Next(max);
}
